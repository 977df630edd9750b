package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What the AppArmor and SELinux tests (lsm_*_test.go) share. They run for
// real in the VM of contrib/test-lsm.sh, which boots once per LSM and fails
// when any of them skips there.

// lsmAttr trims what the kernel appends to a /proc/PID/attr value: SELinux
// a NUL, AppArmor a newline.
func lsmAttr(s string) string { return strings.TrimRight(s, "\x00\n") }

// hostAttr reads a container process's label from the host side, where the
// container cannot have faked /proc.
func hostAttr(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/attr/current")
	if err != nil {
		t.Fatalf("label of pid %d: %v", pid, err)
	}
	return lsmAttr(string(b))
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(r[:])
}

// lsmProcessFile writes an `exec --process` file running args as root, with
// extra fields merged in, and returns its path.
func lsmProcessFile(t *testing.T, extra map[string]any, args ...string) string {
	t.Helper()
	p := map[string]any{
		"args": args, "env": []string{"PATH=/bin"}, "cwd": "/",
		"user": map[string]int{"uid": 0, "gid": 0},
	}
	for k, v := range extra {
		p[k] = v
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// execDetached runs `exec -d --pid-file` with flags and args (after the id;
// none with --process) and returns the exec'd process's host pid, or the
// failed result (pid 0).
// execDetached runs exec -d with the program args (or, with none, the one
// a --process file in flags names: prog) and returns its pid once the
// program runs.
func execDetached(t *testing.T, b *bundle.Bundle, flags []string, args ...string) (int, bundle.Result) {
	t.Helper()
	return execDetachedProg(t, b, flags, args[0], args...)
}

func execDetachedProg(t *testing.T, b *bundle.Bundle, flags []string, prog string, args ...string) (int, bundle.Result) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	full := append([]string{"exec", "-d", "--pid-file", pidFile}, flags...)
	r := b.Run(t, append(append(full, b.ID), args...)...)
	if r.Code != 0 {
		return 0, r
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	// exec -d returns once init is ready, which is right before its execve:
	// the label is the program's only from then on.
	comm := "/proc/" + strconv.Itoa(pid) + "/comm"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(comm); err != nil || strings.TrimSpace(string(b)) == filepath.Base(prog) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec'd pid %d never became %s", pid, prog)
		}
	}
	return pid, r
}

// checkExecLabels starts processes in the running container b the ways
// containerd and podman do (flags; --process, detached with --pid-file as
// the shims call it) and checks each one's label: the container's (want)
// unless the call names another one, by flag or by the process.json field.
func checkExecLabels(t *testing.T, b *bundle.Bundle, want, flag, field, other, wantOther string) {
	t.Helper()
	cat := []string{"cat", "/proc/self/attr/current"}
	for _, tc := range []struct {
		name  string
		flags []string
		args  []string
		want  string
	}{
		{"flags", nil, cat, want},
		{"--process", []string{"--process", lsmProcessFile(t, nil, cat...)}, nil, want},
		{flag, []string{flag, other}, cat, wantOther},
		{"--process with " + field, []string{"--process", lsmProcessFile(t, map[string]any{field: other}, cat...)}, nil, wantOther},
	} {
		r := b.Run(t, append(append(append([]string{"exec"}, tc.flags...), b.ID), tc.args...)...)
		if r.Code != 0 {
			t.Errorf("exec %s: %v", tc.name, r)
			continue
		}
		if got := lsmAttr(r.Stdout); got != tc.want {
			t.Errorf("exec %s: /proc/self/attr/current is %q, want %q", tc.name, got, tc.want)
		}
	}
	// containerd's call: --process --detach --pid-file; read from the host.
	pid, r := execDetachedProg(t, b, []string{"--process", lsmProcessFile(t, nil, "sleep", "30")}, "sleep")
	if pid == 0 {
		t.Errorf("exec --process --detach: %v", r)
	} else if got := hostAttr(t, pid); got != want {
		t.Errorf("exec --process --detach: host sees label %q, want %q", got, want)
	}
}

// fakeProcContainer starts a container (made with opts) whose process
// mounts a tmpfs over /proc with regular files where the LSM attribute
// files and /proc/self/fd/N would be: a runtime that writes an exec'd
// process's label through the container's /proc writes it into a dummy
// file, and the process runs unlabelled (CVE-2019-16884 at run time).
func fakeProcContainer(t *testing.T, opts ...bundle.Option) *bundle.Bundle {
	t.Helper()
	const script = `set -e
busybox mount -t tmpfs fake /proc
for d in self thread-self; do
	busybox mkdir -p /proc/$d/fd /proc/$d/attr/apparmor /proc/$d/attr/selinux
	for f in exec current; do
		: >/proc/$d/attr/$f; : >/proc/$d/attr/apparmor/$f; : >/proc/$d/attr/selinux/$f
	done
	for n in $(busybox seq 0 255); do : >/proc/$d/fd/$n; done
done
: >/tmp/fake-proc-ready
exec sleep 600`
	opts = append([]bundle.Option{
		bundle.WithArgs("/bin/sh", "-c", script),
		bundle.WithSpec(func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SYS_ADMIN")
			c.Effective = append(c.Effective, "CAP_SYS_ADMIN")
			c.Permitted = append(c.Permitted, "CAP_SYS_ADMIN")
		}),
	}, opts...)
	b := bundle.New(t, opts...)
	b.RunDetached(t)
	ready := filepath.Join(b.Rootfs, "tmp", "fake-proc-ready")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not mount its fake /proc within 20s: %v", b.Run(t, "state", b.ID))
		}
	}
}

// checkFakeProcExec execs a process into a fakeProcContainer with flags and
// requires it to carry label want, seen from the host, unless exec refused.
func checkFakeProcExec(t *testing.T, b *bundle.Bundle, want string, flags ...string) {
	t.Helper()
	pid, r := execDetached(t, b, flags, "sleep", "30")
	if pid == 0 {
		assertNoCrash(t, r)
		t.Logf("exec %v refused under a fake /proc (fail-closed): %s", flags, r.Stderr)
		return
	}
	if got := hostAttr(t, pid); got != want {
		t.Errorf("exec %v under a fake /proc: host sees label %q, want %q (the label write went into the container's dummy file)", flags, got, want)
	}
}
