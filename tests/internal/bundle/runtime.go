package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RuntimeEnv names the variable that picks the runtime under test: a name looked up
// in PATH ("runc") or a path (relative ones are taken from the module root).
const RuntimeEnv = "OCIRUN_TEST_RUNTIME"

// CommandTimeout bounds every runtime invocation so a hang fails one test, not the run.
const CommandTimeout = 30 * time.Second

var (
	runtimeOnce sync.Once
	runtimePath string
	runtimeSkip string
)

// Runtime returns the absolute path of the runtime under test, skipping t when it
// is not there (ocirun not built yet).
func Runtime(t testing.TB) string {
	t.Helper()
	runtimeOnce.Do(func() {
		name := os.Getenv(RuntimeEnv)
		// An absolute path needs no module root: the VM run has no Go and no sources.
		var root string
		if !filepath.IsAbs(name) {
			var err error
			if root, err = ModuleRoot(); err != nil {
				runtimeSkip = err.Error()
				return
			}
		}
		switch {
		case name == "":
			runtimePath = filepath.Join(root, "ocirun")
		case !strings.Contains(name, "/"):
			p, err := exec.LookPath(name)
			if err != nil {
				runtimeSkip = fmt.Sprintf("%s=%s: not found in PATH", RuntimeEnv, name)
				return
			}
			runtimePath = p
		case filepath.IsAbs(name):
			runtimePath = name
		default:
			runtimePath = filepath.Join(root, name)
		}
		if _, err := os.Stat(runtimePath); err != nil {
			runtimeSkip = fmt.Sprintf("runtime %s not found (run `make` or set %s=runc)", runtimePath, RuntimeEnv)
		}
	})
	if runtimeSkip != "" {
		t.Skip(runtimeSkip)
	}
	return runtimePath
}

// IsOcirun reports whether the runtime under test is ocirun (so tests may assert
// its exact error wording, which other runtimes do not share).
func IsOcirun(t testing.TB) bool {
	return !strings.HasPrefix(filepath.Base(Runtime(t)), "runc") && !strings.HasPrefix(filepath.Base(Runtime(t)), "crun")
}

// IsRunc reports whether the runtime under test is runc.
func IsRunc(t testing.TB) bool {
	return strings.HasPrefix(filepath.Base(Runtime(t)), "runc")
}

// Result is what one runtime invocation produced.
type Result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
	// StdoutPath is the file that received stdout; a detached container keeps
	// writing to it after the runtime returns.
	StdoutPath string
}

func (r Result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// RunOpts tune one invocation.
type RunOpts struct {
	Stdin *os.File // nil: /dev/null
	Env   []string // added to the test's environment
	// User runs the runtime as another user (rootless tests); nil: as we are.
	User *syscall.Credential
	// Cgroup, if set, is the cgroup v2 directory the runtime starts in
	// (CLONE_INTO_CGROUP): a delegated subtree's leaf.
	Cgroup *os.File
	// Runtime is the binary to run instead of Runtime(t): a copy another
	// user may execute.
	Runtime string
	// Wrap is a command line the runtime runs under (["setpriv", ...]).
	Wrap []string
}

// Run runs the runtime with the bundle's --root and args, with the bundle
// directory as working directory.
func (b *Bundle) Run(t testing.TB, args ...string) Result {
	t.Helper()
	return b.RunWith(t, RunOpts{}, args...)
}

// RunWith is Run with options.
func (b *Bundle) RunWith(t testing.TB, o RunOpts, args ...string) Result {
	t.Helper()
	full := append([]string{"--root", b.Root}, args...)
	res := Result{Args: full}
	ioDir := filepath.Join(b.Dir, "..", filepath.Base(b.Dir)+".io")
	if err := os.MkdirAll(ioDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, err := os.CreateTemp(ioDir, "stdout-")
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.CreateTemp(ioDir, "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	res.StdoutPath = stdout.Name()

	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	rt := o.Runtime
	if rt == "" {
		rt = Runtime(t)
	}
	argv := append(append(slices.Clone(o.Wrap), rt), full...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	// Files, not pipes: a detached container inherits them and would keep a pipe
	// open, so Wait would never return.
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if o.Stdin != nil {
		cmd.Stdin = o.Stdin
	}
	if o.User != nil || o.Cgroup != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.User}
		if o.Cgroup != nil {
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(o.Cgroup.Fd())
		}
	}
	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("%s: timed out after %v", strings.Join(full, " "), CommandTimeout)
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// The way a shell reports it, so a killed runtime is not read as success.
			res.Code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("%s: %v", strings.Join(full, " "), err)
	}
	res.Stdout = readAll(t, stdout.Name())
	res.Stderr = readAll(t, stderr.Name())
	return res
}

func readAll(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// MustRun is Run that fails the test on a non-zero exit.
func (b *Bundle) MustRun(t testing.TB, args ...string) Result {
	t.Helper()
	r := b.Run(t, args...)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	return r
}

// Create runs `create --bundle DIR ID` and requires success.
func (b *Bundle) Create(t testing.TB, extra ...string) Result {
	t.Helper()
	args := append([]string{"create", "--bundle", b.Dir}, extra...)
	return b.MustRun(t, append(args, b.ID)...)
}

// Start runs `start ID` and requires success.
func (b *Bundle) Start(t testing.TB) Result {
	t.Helper()
	return b.MustRun(t, "start", b.ID)
}

// RunDetached runs `run -d` and requires success.
func (b *Bundle) RunDetached(t testing.TB) Result {
	t.Helper()
	return b.MustRun(t, "run", "-d", "--bundle", b.Dir, b.ID)
}

// State runs `state ID`; ok is false (and r holds the failure) when it fails.
func (b *Bundle) State(t testing.TB) (st specs.State, r Result, ok bool) {
	t.Helper()
	r = b.Run(t, "state", b.ID)
	if r.Code != 0 {
		return st, r, false
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("state output is not JSON: %v\n%v", err, r)
	}
	if st.Pid > 0 && b.pid == 0 {
		b.pid = st.Pid
		b.startTime, _ = procStartTime(st.Pid)
	}
	return st, r, true
}

// MustState is State that fails the test when state fails.
func (b *Bundle) MustState(t testing.TB) specs.State {
	t.Helper()
	st, r, ok := b.State(t)
	if !ok {
		t.Fatalf("%v", r)
	}
	return st
}

// WaitStatus polls `state` until the container reaches status or the deadline passes.
func (b *Bundle) WaitStatus(t testing.TB, status specs.ContainerState, within time.Duration) specs.State {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := b.MustState(t)
		if st.Status == status {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: status %q, want %q after %v", b.ID, st.Status, status, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Report runs the container in the foreground (`run`) and decodes the probe's
// report from its stdout.
func (b *Bundle) Report(t testing.TB) *report.Report {
	t.Helper()
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	return ParseReport(t, r.Stdout)
}

// ParseReport decodes a probe report, tolerating a terminal's \r\n.
func ParseReport(t testing.TB, out string) *report.Report {
	t.Helper()
	var rep report.Report
	// A shell may have printed lines before the report: start at the first object.
	i := strings.IndexByte(out, '{')
	if i < 0 {
		t.Fatalf("probe output holds no report: %q", out)
	}
	dec := json.NewDecoder(strings.NewReader(out[i:]))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("probe output is not a report: %v\n%q", err, out)
	}
	return &rep
}

// cleanup force-deletes the container and checks that the runtime left nothing
// behind: no state dir, no cgroup directory, no live init process.
func (b *Bundle) cleanup(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Runtime(t)); err != nil {
		return
	}
	b.State(t) // records the pid if the container still exists
	r := b.Run(t, "delete", "--force", b.ID)
	if r.Code != 0 {
		t.Errorf("cleanup: %v", r)
	}
	b.CheckGone(t)
}

// CheckGone asserts that nothing of the container is left: state dir entry,
// cgroup directories, init process.
func (b *Bundle) CheckGone(t testing.TB) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(b.Root, b.ID)); err == nil {
		t.Errorf("state dir %s left behind", filepath.Join(b.Root, b.ID))
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := existingCgroupDirs(t, b.CgroupsPath)
		alive := b.pid > 0 && procAlive(b.pid, b.startTime)
		procs := b.LeftoverProcesses()
		if len(left) == 0 && !alive && len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			if len(left) > 0 {
				t.Errorf("cgroup dirs left behind: %v", left)
			}
			if alive {
				t.Errorf("init process %d still alive", b.pid)
			}
			if len(procs) > 0 {
				t.Errorf("processes of container %s left behind: %v", b.ID, procs)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func existingCgroupDirs(t testing.TB, rel string) []string {
	t.Helper()
	dirs, err := CgroupDirs(rel)
	if err != nil {
		t.Errorf("cgroup dirs: %v", err)
		return nil
	}
	var left []string
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			left = append(left, d)
		}
	}
	return left
}

// procStartTime returns field 22 of /proc/PID/stat, which tells a pid's reuse apart.
func procStartTime(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// comm (field 2) may hold spaces; the fields after it start past the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: short", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return "", io.EOF
	}
	return f[19], nil
}

// ProcAlive reports whether pid runs and is not a zombie.
func ProcAlive(pid int) bool {
	_, err := procStartTime(pid)
	return err == nil
}

func procAlive(pid int, startTime string) bool {
	st, err := procStartTime(pid)
	return err == nil && (startTime == "" || st == startTime)
}

// LeftoverProcesses lists live processes that still belong to the container: in
// its cgroup, rooted in its rootfs, or naming its id on their command line.
func (b *Bundle) LeftoverProcesses() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || !ProcAlive(pid) {
			continue
		}
		dir := "/proc/" + e.Name()
		cg, _ := os.ReadFile(dir + "/cgroup")
		root, _ := os.Readlink(dir + "/root")
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		cmd := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		if strings.Contains(string(cg), "/"+b.CgroupsPath+"\n") ||
			strings.HasPrefix(root, b.Rootfs) ||
			strings.Contains(cmd, b.ID) {
			pids = append(pids, pid)
		}
	}
	return pids
}
