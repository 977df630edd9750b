package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestExec covers `exec` as containerd and podman use it: output and exit
// status, env/cwd/user flags, --process, detached with --pid-file, and the
// wording podman maps to 127.
func TestExec(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.RunDetached(t)
	initNS, err := os.Readlink("/proc/" + strconv.Itoa(b.MustState(t).Pid) + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}

	r := b.Run(t, "exec", "--env", "A=1,2", "--env", "B=x", "--cwd", "/tmp", "-u", "1000:1000", b.ID,
		"/bin/sh", "-c", `echo "$A|$B|$(pwd)|$(id -u):$(id -g)|$(readlink /proc/self/ns/pid)"; exit 7`)
	if r.Code != 7 {
		t.Fatalf("exec exit status %d, want 7: %v", r.Code, r)
	}
	want := "1,2|x|/tmp|1000:1000|" + initNS
	if got := strings.TrimSpace(r.Stdout); got != want {
		t.Errorf("exec saw %q, want %q (env not comma-split, cwd, user, the container's pid ns)", got, want)
	}

	// `exec ID ls -l`: flags after the command belong to the command.
	if r := b.MustRun(t, "exec", b.ID, "ls", "-l", "/bin/probe"); !strings.Contains(r.Stdout, "probe") || !strings.HasPrefix(r.Stdout, "-") {
		t.Errorf("exec ls -l: %q", r.Stdout)
	}

	proc := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(proc, []byte(`{"args":["/bin/sh","-c","echo from-process-json $X"],"env":["X=y","PATH=/bin"],"cwd":"/","user":{"uid":0,"gid":0}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := b.MustRun(t, "exec", "--process", proc, b.ID); strings.TrimSpace(r.Stdout) != "from-process-json y" {
		t.Errorf("exec --process: %q", r.Stdout)
	}

	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	b.MustRun(t, "exec", "-d", "--pid-file", pidFile, b.ID, "/bin/probe", "sleep", "30")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if !bundle.ProcAlive(pid) {
		t.Errorf("detached exec pid %d from --pid-file is not running", pid)
	}

	r = b.Run(t, "exec", b.ID, "no-such-binary")
	if r.Code != 255 || !strings.Contains(r.Stderr, "executable file not found in $PATH") {
		t.Errorf("missing binary: exit %d, stderr %q; want 255 and runc's wording", r.Code, r.Stderr)
	}
}

// TestExecStates: exec into a paused container needs --ignore-paused; into a
// stopped one it fails.
func TestExecStates(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.RunDetached(t)
	b.MustRun(t, "pause", b.ID)
	if r := b.Run(t, "exec", b.ID, "true"); r.Code == 0 {
		t.Errorf("exec into a paused container succeeded: %v", r)
	}
	b.MustRun(t, "resume", b.ID)
	b.MustRun(t, "kill", b.ID, "KILL")
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	if r := b.Run(t, "exec", b.ID, "true"); r.Code == 0 {
		t.Errorf("exec into a stopped container succeeded: %v", r)
	}
}

// TestExecSubCgroup: exec --cgroup puts the process in an existing
// sub-cgroup of the container's.
func TestExecSubCgroup(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.RunDetached(t)
	dirs, err := bundle.CgroupDirs(b.CgroupsPath)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("container cgroup dirs: %v %v", dirs, err)
	}
	// Without a controller prefix the sub-cgroup is used in every hierarchy.
	for _, d := range dirs {
		sub := filepath.Join(d, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(sub) })
		// A new v1 cpuset cgroup has no cpus or mems until given some.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(d, f)); err == nil {
				_ = os.WriteFile(filepath.Join(sub, f), v, 0)
			}
		}
	}
	r := b.MustRun(t, "exec", "--cgroup", "sub", b.ID, "cat", "/proc/self/cgroup")
	if !strings.Contains(r.Stdout, "/sub\n") {
		t.Errorf("exec --cgroup sub: /proc/self/cgroup = %q", r.Stdout)
	}
	if r := b.Run(t, "exec", "--cgroup", "nosuch", b.ID, "true"); r.Code == 0 {
		t.Errorf("exec --cgroup into a missing sub-cgroup succeeded")
	}
}

// TestExecOOMScoreAdj: an exec'd process gets the container's
// process.oomScoreAdj, as runc's do, not the score of whoever ran exec (a
// shim's is often -998); one its process.json gives wins (in ocirun: the
// process's own field, as every other one of process.json).
func TestExecOOMScoreAdj(t *testing.T) {
	t.Parallel()
	own, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(own)) == "200" {
		t.Fatal("the test's own oom_score_adj is 200: it could not tell the container's from ours")
	}
	b := bundle.New(t, bundle.WithProbe("sleep", "60"), bundle.WithSpec(func(s *specs.Spec) {
		adj := 200
		s.Process.OOMScoreAdj = &adj
	}))
	b.RunDetached(t)
	rep := bundle.ParseReport(t, b.MustRun(t, "exec", b.ID, "/bin/probe", "report").Stdout)
	if rep.OOMScoreAdj != "200" {
		t.Errorf("exec'd process's oom_score_adj %q, want the container's 200 (ours is %s)", rep.OOMScoreAdj, strings.TrimSpace(string(own)))
	}
	if !bundle.IsOcirun(t) {
		return // runc 1.1 ignores a process.json's oomScoreAdj in exec
	}
	proc := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(proc, []byte(`{"args":["/bin/probe","report"],"cwd":"/","user":{"uid":0,"gid":0},"oomScoreAdj":300}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = bundle.ParseReport(t, b.MustRun(t, "exec", "--process", proc, b.ID).Stdout)
	if rep.OOMScoreAdj != "300" {
		t.Errorf("exec --process with oomScoreAdj 300: oom_score_adj %q", rep.OOMScoreAdj)
	}
}
