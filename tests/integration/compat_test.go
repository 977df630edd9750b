package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Behaviours where clients can tell ocirun from runc 1.4 (issue 15): each
// test checks runc 1.4's behaviour, or the runtime-spec's where the two
// disagree. runc 1.1.5, installed here, predates some of them: those
// assertions apply to ocirun only.

// TestCapabilityNotGrantable: runtime-spec 1.3 says a capability that cannot
// be granted (here: outside the bounding set ocirun itself runs with) is
// logged as a warning, and the runtime should not fail.
func TestCapabilityNotGrantable(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux) to run the runtime with a smaller bounding set")
	}
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		c := s.Process.Capabilities
		for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable} {
			*set = append(*set, "CAP_SYS_TIME")
		}
		c.Ambient = nil
	}))
	r := b.RunWith(t, bundle.RunOpts{Wrap: []string{"setpriv", "--bounding-set", "-sys_time", "--"}}, "run", "--bundle", b.Dir, b.ID)
	if !bundle.IsOcirun(t) {
		t.Skipf("runc 1.1 refuses what it cannot grant: %v", r)
	}
	if r.Code != 0 {
		t.Fatalf("refused a capability it cannot grant: %v", r)
	}
	if !strings.Contains(r.Stderr, "level=warning") || !strings.Contains(r.Stderr, "ignoring unknown or unavailable capabilities: [CAP_SYS_TIME]") {
		t.Errorf("no warning naming CAP_SYS_TIME: %v", r)
	}
	rep := bundle.ParseReport(t, r.Stdout)
	// CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29); not CAP_SYS_TIME (25).
	for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if rep.Caps[set] != "0000000020000420" {
			t.Errorf("%s = %s, want 0000000020000420 (without CAP_SYS_TIME)", set, rep.Caps[set])
		}
	}
}

// TestFlagsAfterID: runc parses a command's flags after the container id
// (`update ID --memory 1M`, `kill ID KILL --all`, `delete ID -f`); scripts
// written against runc put them there.
func TestFlagsAfterID(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "trap '' TERM; /bin/probe sleep 60 & /bin/probe sleep 60"))
	b.RunDetached(t)
	b.MustRun(t, "update", b.ID, "--memory", "64M")
	if v, _ := mustCgFile(t, b, "memory.limit_in_bytes", "memory.max"); v != "67108864" {
		t.Errorf("memory limit after `update ID --memory 64M` = %s, want 67108864", v)
	}
	// Read as arguments, "--all" would make kill fail (three arguments).
	b.MustRun(t, "kill", b.ID, "KILL", "--all")
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	b.MustRun(t, "delete", b.ID, "-f")
	if _, r, ok := b.State(t); ok || !strings.Contains(r.Stderr, "container does not exist") {
		t.Errorf("state after `delete ID -f`: %v", r)
	}
}

// TestListRootMissing: `list` with a --root that does not exist is an error
// (runc 1.4): the caller named a directory, so a typo must not read as "no
// containers". The default root, before any container, lists nothing.
func TestListRootMissing(t *testing.T) {
	t.Parallel()
	bundle.RequireRoot(t)
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1 creates the --root it is given")
	}
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	// runc 1.4 (urfave/cli v3) takes global flags after the command too.
	for _, args := range [][]string{{"--root", missing, "list"}, {"list", "--root", missing}} {
		out, err := exec.Command(bundle.Runtime(t), args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "no such file or directory") {
			t.Errorf("%q: %v, %s; want an error naming the missing directory", args, err, out)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("%q created %s", args, missing)
		}
	}
}

// pidfdPid reads which process a pidfd refers to from its fdinfo.
func pidfdPid(t *testing.T, f *os.File) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("fd %d is not a pidfd: %s", f.Fd(), data)
	return 0
}

// TestPidfdSocket: create, run and exec hand a pidfd of the process they
// start to --pidfd-socket (runc 1.2 and later), which a supervisor signals.
func TestPidfdSocket(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1 has no --pidfd-socket")
	}
	for _, run := range []bool{false, true} {
		name := map[bool]string{false: "create", true: "run -d"}[run]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithProbe("sleep", "60"))
			ps := newConsoleSocket(t)
			if run {
				b.MustRun(t, "run", "-d", "--pidfd-socket", ps.path, "--bundle", b.Dir, b.ID)
			} else {
				b.Create(t, "--pidfd-socket", ps.path)
			}
			pidfd := ps.recv(t)
			st := b.MustState(t)
			if got := pidfdPid(t, pidfd); got != st.Pid {
				t.Fatalf("pidfd refers to pid %d, the init is %d", got, st.Pid)
			}
			if err := unix.PidfdSendSignal(int(pidfd.Fd()), unix.SIGKILL, nil, 0); err != nil {
				t.Fatalf("pidfd_send_signal: %v", err)
			}
			b.WaitStatus(t, specs.StateStopped, 5*time.Second)
		})
	}
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.RunDetached(t)
		ps := newConsoleSocket(t)
		pidFile := filepath.Join(t.TempDir(), "exec.pid")
		b.MustRun(t, "exec", "-d", "--pid-file", pidFile, "--pidfd-socket", ps.path, b.ID, "/bin/probe", "sleep", "60")
		pidfd := ps.recv(t)
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		if got := pidfdPid(t, pidfd); strconv.Itoa(got) != string(data) {
			t.Fatalf("pidfd refers to pid %d, the exec'd process is %s", got, data)
		}
	})
}

// TestRunDetachKeep: runc 1.4 takes `run -d --keep` (--keep then only
// matters when the start fails): the container runs detached.
func TestRunDetachKeep(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	r := b.Run(t, "run", "-d", "--keep", "--bundle", b.Dir, b.ID)
	if bundle.IsRunc(t) && r.Code != 0 {
		t.Skipf("runc 1.1: %v", r)
	}
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	if st := b.MustState(t); st.Status != specs.StateRunning {
		t.Errorf("status %s after run -d --keep, want running", st.Status)
	}
}

// TestRunNoSubreaper: `run` reaps what its container orphans outside a pid
// namespace of its own as a subreaper, unless --no-subreaper (runc's flag).
// The container shares our pid namespace; its shell starts a background
// sleep from a subshell that exits, and reports the orphan's parent: `run`
// itself (the shell's parent) as a subreaper, someone else without.
func TestRunNoSubreaper(t *testing.T) {
	t.Parallel()
	script := `(sleep 30 & echo $! >/tmp/orphan); sleep 0.5; o=$(cat /tmp/orphan); ` +
		`p=$(grep PPid /proc/$o/status | tr -dc 0-9); kill $o; ` +
		`if [ "$p" = "$PPID" ]; then echo reaped-by-run; else echo reaped-by-other; fi`
	for _, tc := range []struct {
		flags []string
		want  string
	}{{nil, "reaped-by-run"}, {[]string{"--no-subreaper"}, "reaped-by-other"}} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", script), bundle.WithSpec(func(s *specs.Spec) {
				var ns []specs.LinuxNamespace
				for _, n := range s.Linux.Namespaces {
					if n.Type != specs.PIDNamespace {
						ns = append(ns, n)
					}
				}
				s.Linux.Namespaces = ns
			}))
			args := append(append([]string{"run"}, tc.flags...), "--bundle", b.Dir, b.ID)
			r := b.Run(t, args...)
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != tc.want {
				t.Errorf("run %v: want %s: %v", tc.flags, tc.want, r)
			}
		})
	}
}

// TestErrorWords: the errors scripts and clients match keep runc's words at
// their start (ocirun's JSON path follows), and an execve that fails after
// start says "exec PATH: ERRNO" and exits 255, as runc's init.
func TestErrorWords(t *testing.T) {
	t.Parallel()
	ocirun := bundle.IsOcirun(t)
	// want checks that stderr holds words, right after "ocirun: " where
	// ocirun is under test (runc 1.1 words some differently: only held).
	want := func(t *testing.T, r bundle.Result, words string) {
		t.Helper()
		if ocirun && !strings.Contains(r.Stderr, "ocirun: "+words) {
			t.Errorf("stderr does not start the error with %q: %v", words, r)
		}
		if !ocirun && !strings.Contains(r.Stderr, words) {
			t.Logf("%s words it differently: %v", bundle.Runtime(t), r)
		}
	}
	t.Run("does not exist", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t)
		r := b.Run(t, "state", b.ID)
		if r.Code == 0 {
			t.Fatalf("state of a missing container: %v", r)
		}
		want(t, r, "container does not exist")
	})
	t.Run("not running", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("exit", "0"))
		b.MustRun(t, "run", "--keep", "--bundle", b.Dir, b.ID)
		r := b.Run(t, "kill", b.ID, "KILL")
		if r.Code == 0 {
			t.Fatalf("kill of a stopped container: %v", r)
		}
		want(t, r, "container not running")
	})
	t.Run("hook", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/busybox", Args: []string{"sh", "-c", "true"}}, shHook("exit 3")}}
		}))
		r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
		if r.Code == 0 {
			t.Fatalf("create with a failing hook: %v", r)
		}
		want(t, r, "error running createRuntime hook #1: ")
		if ocirun && !strings.Contains(r.Stderr, `hooks.createRuntime[1] "/bin/busybox": exit status 3`) {
			t.Errorf("no JSON path after runc's words: %v", r)
		}
	})
	t.Run("memory policy", func(t *testing.T) {
		t.Parallel()
		if bundle.IsRunc(t) {
			t.Skip("runc 1.1 has no linux.memoryPolicy")
		}
		b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_RANDOM", Nodes: "0"}
		}))
		r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
		if r.Code == 0 {
			t.Fatalf("create with an unknown memory policy mode: %v", r)
		}
		want(t, r, `invalid memory policy mode "MPOL_RANDOM": linux.memoryPolicy.mode`)
	})
	t.Run("proc on a symlink", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t)
		if err := os.Remove(filepath.Join(b.Rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/tmp", filepath.Join(b.Rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
		r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
		if r.Code == 0 {
			t.Fatalf("create with /proc a symlink: %v", r)
		}
		want(t, r, `filesystem "proc" must be mounted on ordinary directory: mounts[0]`)
	})
	t.Run("execve", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithArgs("/bin/bad-interpreter"))
		if err := os.WriteFile(filepath.Join(b.Rootfs, "bin", "bad-interpreter"), []byte("#!/no/such/shell\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		if !strings.Contains("\n"+r.Stderr, "\nexec /bin/bad-interpreter: no such file or directory\n") {
			t.Errorf("no line in runc's words: %v", r)
		}
		if ocirun && r.Code != 255 {
			t.Errorf("exit %d, want 255 (runc's init): %v", r.Code, r)
		}
	})
}

// envOf returns the values of name in a probe's environment, in order.
func envOf(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestEnvironment: as runc 1.4, HOME comes from the user's entry in the
// container's /etc/passwd when process.env has none or an empty one ("/"
// for a uid it does not list), a later duplicate overrides an earlier one,
// and a value with a newline arrives whole.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	uid := func(u uint32) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Process.User.UID, s.Process.User.GID = u, u }
	}
	env := func(kv ...string) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, kv...) }
	}
	for _, tc := range []struct {
		name string
		edit func(*specs.Spec)
		home string
	}{
		{"root", func(*specs.Spec) {}, "/root"},
		{"tester", uid(1000), "/home/tester"},
		{"unlisted uid", uid(4321), "/"},
		{"empty HOME", env("HOME="), "/root"},
		{"own HOME", env("HOME=/srv"), "/srv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithSpec(tc.edit))
			rep := b.Report(t)
			if got := envOf(rep.Env, "HOME"); len(got) != 1 || got[0] != tc.home {
				t.Errorf("HOME = %q, want exactly [%s]; env %q", got, tc.home, rep.Env)
			}
		})
	}
	t.Run("duplicates and newlines", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithSpec(env("A=1", "MULTI=one\ntwo\n", "A=2", "B=x", "A=3")))
		rep := b.Report(t)
		if got := envOf(rep.Env, "A"); len(got) != 1 || got[0] != "3" {
			t.Errorf("A = %q, want the last one only, [3]", got)
		}
		if got := envOf(rep.Env, "MULTI"); len(got) != 1 || got[0] != "one\ntwo\n" {
			t.Errorf("MULTI = %q, want [\"one\\ntwo\\n\"]", got)
		}
	})
}

// TestExecEnvironmentAndUser: exec, with flags or -p, follows the same rules
// as the container's process; --user takes ids /etc/passwd does not list.
func TestExecEnvironmentAndUser(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"), bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "A=1", "MULTI=x\ny")
	}))
	b.RunDetached(t)
	report := func(t *testing.T, args ...string) *report.Report {
		t.Helper()
		r := b.MustRun(t, append(append([]string{"exec"}, args...), b.ID, "/bin/probe", "report")...)
		return bundle.ParseReport(t, r.Stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		home string
		uid  int
		a    string
	}{
		{"root", nil, "/root", 0, "1"},
		{"tester", []string{"--user", "1000:1000"}, "/home/tester", 1000, "1"},
		{"unlisted ids", []string{"--user", "4321:4322"}, "/", 4321, "1"},
		{"env overrides", []string{"--env", "A=2", "--env", "A=3"}, "/root", 0, "3"},
		{"empty HOME", []string{"--env", "HOME="}, "/root", 0, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := report(t, tc.args...)
			if got := envOf(rep.Env, "HOME"); len(got) != 1 || got[0] != tc.home {
				t.Errorf("HOME = %q, want [%s]", got, tc.home)
			}
			if got := envOf(rep.Env, "A"); len(got) != 1 || got[0] != tc.a {
				t.Errorf("A = %q, want [%s]", got, tc.a)
			}
			if got := envOf(rep.Env, "MULTI"); len(got) != 1 || got[0] != "x\ny" {
				t.Errorf("MULTI = %q, want the container's, whole", got)
			}
			if rep.UID != tc.uid {
				t.Errorf("uid %d, want %d", rep.UID, tc.uid)
			}
		})
	}
	t.Run("unlisted gid", func(t *testing.T) {
		if rep := report(t, "--user", "4321:4322"); rep.GID != 4322 {
			t.Errorf("gid %d, want 4322", rep.GID)
		}
	})
	t.Run("process.json", func(t *testing.T) {
		p := specs.Process{
			Args: []string{"/bin/probe", "report"}, Cwd: "/", User: specs.User{UID: 1000, GID: 1000},
			Env: []string{"PATH=/bin", "A=1", "A=2", "NL=a\nb"},
		}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "process.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := b.MustRun(t, "exec", "-p", path, b.ID)
		rep := bundle.ParseReport(t, r.Stdout)
		if got := envOf(rep.Env, "HOME"); len(got) != 1 || got[0] != "/home/tester" {
			t.Errorf("HOME = %q, want [/home/tester]", got)
		}
		if got := envOf(rep.Env, "A"); len(got) != 1 || got[0] != "2" {
			t.Errorf("A = %q, want [2]", got)
		}
		if got := envOf(rep.Env, "NL"); len(got) != 1 || got[0] != "a\nb" {
			t.Errorf("NL = %q, want [\"a\\nb\"]", got)
		}
	})
}

// TestCwdEnteredAsRoot: the cwd is entered before the switch to the user, as
// runc does, so a user who could not search a directory on the way still
// starts in it.
func TestCwdEnteredAsRoot(t *testing.T) {
	t.Parallel()
	secret := func(b *bundle.Bundle) {
		for dir, mode := range map[string]os.FileMode{"secret": 0o700, "secret/work": 0o777} {
			p := filepath.Join(b.Rootfs, dir)
			if err := os.MkdirAll(p, mode); err != nil {
				panic(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				panic(err)
			}
		}
	}
	b := bundle.New(t, secret, bundle.WithSpec(func(s *specs.Spec) {
		s.Process.User.UID, s.Process.User.GID = 1000, 1000
		s.Process.Cwd = "/secret/work"
	}))
	rep := b.Report(t)
	if rep.Cwd != "/secret/work" || rep.UID != 1000 {
		t.Errorf("cwd %q as uid %d, want /secret/work as 1000", rep.Cwd, rep.UID)
	}
	e := bundle.New(t, secret, bundle.WithProbe("sleep", "60"))
	e.RunDetached(t)
	r := e.MustRun(t, "exec", "--user", "1000:1000", "--cwd", "/secret/work", e.ID, "/bin/probe", "report")
	if rep := bundle.ParseReport(t, r.Stdout); rep.Cwd != "/secret/work" || rep.UID != 1000 {
		t.Errorf("exec: cwd %q as uid %d, want /secret/work as 1000", rep.Cwd, rep.UID)
	}
}

// TestTerminalOwner: the terminal of a non-root process is owned by it, as
// runc makes it, for create and for exec -t.
func TestTerminalOwner(t *testing.T) {
	t.Parallel()
	for _, uid := range []uint32{0, 1000} {
		t.Run(fmt.Sprintf("create uid %d", uid), func(t *testing.T) {
			t.Parallel()
			cs := newConsoleSocket(t)
			b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
				s.Process.Terminal = true
				s.Process.User.UID, s.Process.User.GID = uid, uid
			}))
			b.Create(t, "--console-socket", cs.path)
			master := cs.recv(t)
			b.Start(t)
			rep := bundle.ParseReport(t, strings.ReplaceAll(readPTY(t, master, 10*time.Second), "\r\n", "\n"))
			if !rep.Stdin.IsTTY || rep.Stdin.UID != uid {
				t.Errorf("terminal %+v, want one owned by uid %d", rep.Stdin, uid)
			}
		})
	}
	t.Run("exec -t --user 1000", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.RunDetached(t)
		cs := newConsoleSocket(t)
		b.MustRun(t, "exec", "-t", "-d", "--console-socket", cs.path, "--user", "1000:1000", b.ID, "/bin/probe", "report")
		rep := bundle.ParseReport(t, strings.ReplaceAll(readPTY(t, cs.recv(t), 10*time.Second), "\r\n", "\n"))
		if !rep.Stdin.IsTTY || rep.Stdin.UID != 1000 {
			t.Errorf("terminal %+v, want one owned by uid 1000", rep.Stdin)
		}
	})
}

// TestAmbientNotRaised: an ambient capability the kernel will not raise is
// a warning in runc's words, not a failure (runc 1.4). The runtime runs with
// SECBIT_NO_CAP_AMBIENT_RAISE, which its init inherits.
func TestAmbientNotRaised(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("capsh"); err != nil {
		t.Skip("needs capsh (libcap2-bin) to set SECBIT_NO_CAP_AMBIENT_RAISE")
	}
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Inheritable = c.Permitted
	}))
	const noAmbientRaise = 1 << 6
	wrap := []string{"capsh", fmt.Sprintf("--secbits=%d", noAmbientRaise), "--", "-c", `exec "$0" "$@"`}
	r := b.RunWith(t, bundle.RunOpts{Wrap: wrap}, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		t.Fatalf("an ambient capability that cannot be raised failed the run: %v", r)
	}
	if bundle.IsOcirun(t) && (!strings.Contains(r.Stderr, "level=warning") || !strings.Contains(r.Stderr, "can't raise ambient capability CAP_KILL")) {
		t.Errorf("no warning in runc's words: %v", r)
	}
	if rep := bundle.ParseReport(t, r.Stdout); rep.Caps["CapAmb"] != "0000000000000000" {
		t.Errorf("CapAmb = %s, want none raised", rep.Caps["CapAmb"])
	}
}

// TestDebugLines: --debug writes debug lines for create, run and exec, in
// text (level=debug) and in JSON ("level":"debug"), init's own steps
// included, as runc's --debug does.
func TestDebugLines(t *testing.T) {
	t.Parallel()
	fromInit := func(t *testing.T, what, out string) {
		t.Helper()
		if bundle.IsOcirun(t) && !strings.Contains(out, "init: ") {
			t.Errorf("%s: no debug line from init's stage:\n%s", what, out)
		}
	}
	t.Run("run text", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("exit", "0"))
		r := b.MustRun(t, "--debug", "run", "--bundle", b.Dir, b.ID)
		if !strings.Contains(r.Stderr, "level=debug") {
			t.Errorf("no level=debug line: %v", r)
		}
		fromInit(t, "run", r.Stderr)
	})
	t.Run("create and exec json", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		log := filepath.Join(t.TempDir(), "log.json")
		b.MustRun(t, "--debug", "--log", log, "--log-format", "json", "create", "--bundle", b.Dir, b.ID)
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		created := len(data)
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q is not JSON: %v", l, err)
			}
		}
		if !strings.Contains(string(data), `"level":"debug"`) {
			t.Errorf("create: no \"level\":\"debug\" line:\n%s", data)
		}
		fromInit(t, "create", string(data))
		b.Start(t)
		b.MustRun(t, "--debug", "--log", log, "--log-format", "json", "exec", b.ID, "/bin/probe", "exit", "0")
		if data, err = os.ReadFile(log); err != nil {
			t.Fatal(err)
		}
		exec := string(data[created:])
		if !strings.Contains(exec, `"level":"debug"`) {
			t.Errorf("exec: no \"level\":\"debug\" line:\n%s", exec)
		}
		fromInit(t, "exec", exec)
	})
	t.Run("quiet without --debug", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("exit", "0"))
		if r := b.MustRun(t, "run", "--bundle", b.Dir, b.ID); strings.Contains(r.Stderr, "level=debug") {
			t.Errorf("debug lines without --debug: %v", r)
		}
	})
}
