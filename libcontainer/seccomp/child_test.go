package seccomp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
)

// The behaviour tests re-execute the test binary: a filter cannot be
// removed, so each one is loaded into a child that runs a few syscalls and
// prints "op=errno" per line (0: success).
const (
	envChild   = "OCIRUN_SECCOMP_CHILD"
	envProfile = "OCIRUN_SECCOMP_PROFILE"
	envOps     = "OCIRUN_SECCOMP_OPS"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	runtime.LockOSThread()
	data, err := os.ReadFile(os.Getenv(envProfile))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	var c configs.Seccomp
	if err := json.Unmarshal(data, &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	// As the init does when process.noNewPrivileges is set: the load then
	// needs no CAP_SYS_ADMIN.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fd, err := seccomp.Load(&c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 3
	}
	if fd >= 0 {
		state := fmt.Sprintf(`{"ociVersion":"1.3.0","fds":["seccompFd"],"pid":%d,"metadata":%q,"state":{"ociVersion":"1.3.0","id":"test","status":"creating","pid":%d,"bundle":"/"}}`,
			os.Getpid(), c.ListenerMetadata, os.Getpid())
		if err := seccomp.SendNotifyFd(c.ListenerPath, fd, []byte(state)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	var out strings.Builder
	for _, op := range strings.Split(os.Getenv(envOps), ",") {
		fmt.Fprintf(&out, "%s=%d\n", op, runOp(op))
	}
	os.Stdout.WriteString(out.String())
	return 0
}

// runOp performs one syscall and returns its errno. "sys:NR:A0:A1:A2" is a
// raw syscall, "mkdirat:PATH" and "getcwd" need pointers.
func runOp(op string) unix.Errno {
	name, arg, _ := strings.Cut(op, ":")
	switch name {
	case "mkdirat":
		return errnoOf(unix.Mkdirat(unix.AT_FDCWD, arg, 0o755))
	case "getcwd":
		buf := make([]byte, 4096)
		_, _, e := unix.Syscall(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
		return e
	case "uname":
		var u unix.Utsname
		return errnoOf(unix.Uname(&u))
	case "sys":
		var v [4]uintptr
		for i, f := range strings.Split(arg, ":") {
			n, _ := strconv.ParseUint(f, 0, 64)
			v[i] = uintptr(n)
		}
		_, _, e := unix.Syscall(v[0], v[1], v[2], v[3])
		return e
	}
	return unix.Errno(255)
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

type childResult struct {
	errnos map[string]unix.Errno
	state  *os.ProcessState
	stderr string
	pid    int
}

func sysOp(nr uintptr, args ...uint64) string {
	s := fmt.Sprintf("sys:%d", nr)
	for _, a := range args {
		s += fmt.Sprintf(":%#x", a)
	}
	return s
}

// startChild starts the child with c; wait collects its results.
func startChild(t *testing.T, c *configs.Seccomp, ops ...string) (*exec.Cmd, *strings.Builder, *strings.Builder) {
	t.Helper()
	if !seccomp.Supported() {
		t.Skip("seccomp is not available in this kernel")
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envProfile+"="+profile, envOps+"="+strings.Join(ops, ","),
		"GOTRACEBACK=single")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

func wait(t *testing.T, cmd *exec.Cmd, stdout, stderr *strings.Builder) childResult {
	t.Helper()
	_ = cmd.Wait() // the state says how it ended
	r := childResult{errnos: map[string]unix.Errno{}, state: cmd.ProcessState, stderr: stderr.String(), pid: cmd.Process.Pid}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		op, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(v)
		r.errnos[op] = unix.Errno(n)
	}
	return r
}

func runChild(t *testing.T, c *configs.Seccomp, ops ...string) childResult {
	t.Helper()
	cmd, stdout, stderr := startChild(t, c, ops...)
	return wait(t, cmd, stdout, stderr)
}

// mustExit fails unless the child ran to completion.
func (r childResult) mustExit(t *testing.T) {
	t.Helper()
	if !r.state.Exited() || r.state.ExitCode() != 0 {
		t.Fatalf("child: %v, stderr:\n%s", r.state, r.stderr)
	}
}

func (r childResult) expect(t *testing.T, op string, want unix.Errno) {
	t.Helper()
	got, ok := r.errnos[op]
	if !ok {
		t.Errorf("%s: no result (stderr: %s)", op, r.stderr)
		return
	}
	if got != want {
		t.Errorf("%s: errno %d (%v), want %d (%v)", op, int(got), got, int(want), want)
	}
}
