package integration

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// leakFDs opens n handles on the host's /sys/fs/cgroup, the directory whose
// leaked fd made CVE-2024-21626 exploitable; passed as ExtraFiles they are
// the runtime's fds 3 .. 3+n-1, inherited without close-on-exec.
func leakFDs(t *testing.T, n int) []*os.File {
	t.Helper()
	var files []*os.File
	for i := 0; i < n; i++ {
		f, err := os.Open("/sys/fs/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

// fdRange are the fd numbers tried: every one a leaked host directory in the
// runtime, some also the runtime's own fds in its init.
const fdFirst, fdLast = 3, 20

// checkCwd accepts a failed run, or a cwd the kernel reports inside the
// container's root; "(unreachable)/..." means the process sits on the host.
func checkCwd(t *testing.T, what string, r bundle.Result) {
	t.Helper()
	assertNoCrash(t, r)
	if r.Code != 0 {
		return
	}
	cwd := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(cwd, "/") {
		t.Errorf("%s: container process runs with cwd %q outside its root", what, cwd)
	}
}

// TestSecurityCVE2024_21626_LeakedFdCwd: CVE-2024-21626: a caller leaks fds
// (here to the host's /sys/fs/cgroup) into the runtime; a process whose cwd or
// program is /proc/self/fd/N would then start on the host's filesystem. For
// every N the run or exec fails, or its cwd is inside the container; the
// container's processes hold only stdio and the preserved fds.
func TestSecurityCVE2024_21626_LeakedFdCwd(t *testing.T) {
	t.Parallel()
	leaked := leakFDs(t, fdLast-fdFirst+1)

	t.Run("process.cwd", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("getcwd"))
		for n := fdFirst; n <= fdLast; n++ {
			b.Edit(t, func(s *specs.Spec) { s.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(n) })
			r := runWithFiles(t, b, leaked, "run", "--bundle", b.Dir, b.ID)
			checkCwd(t, "cwd /proc/self/fd/"+strconv.Itoa(n), r)
		}
	})
	t.Run("process.cwd with a lying PWD", func(t *testing.T) {
		t.Parallel()
		// The container's /proc is a bind of the host's procfs, so a runtime fd
		// on the host /proc and the container's /proc are the same inode. A cwd
		// check that trusts $PWD when it stats the same as "." (as os.Getwd
		// does) would then take the host mount for the container's.
		b := bundle.New(t, bundle.WithProbe("getcwd"), withoutMounts("/proc"),
			withMount(specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind"}}),
			bundle.WithSpec(func(s *specs.Spec) {
				s.Process.Env = append(s.Process.Env, "PWD=/proc")
				s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			}))
		for n := fdFirst; n <= fdLast; n++ {
			b.Edit(t, func(s *specs.Spec) { s.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(n) })
			r := runWithFiles(t, b, leaked, "run", "--bundle", b.Dir, b.ID)
			checkCwd(t, "cwd /proc/self/fd/"+strconv.Itoa(n)+" with PWD=/proc", r)
		}
	})
	t.Run("process.args[0]", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t)
		for n := fdFirst; n <= fdLast; n++ {
			fd := "/proc/self/fd/" + strconv.Itoa(n)
			b.Edit(t, func(s *specs.Spec) { s.Process.Args = []string{fd} })
			r := runWithFiles(t, b, leaked, "run", "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			if r.Code == 0 {
				t.Errorf("args[0] %s ran (exit 0): it can only name a leaked or runtime fd", fd)
			}
		}
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "300"))
		b.RunDetached(t)
		for n := fdFirst; n <= fdLast; n++ {
			fd := "/proc/self/fd/" + strconv.Itoa(n)
			r := runWithFiles(t, b, leaked, "exec", "--cwd", fd, b.ID, bundle.ProbePath, "getcwd")
			checkCwd(t, "exec --cwd "+fd, r)
			r = runWithFiles(t, b, leaked, "exec", b.ID, fd)
			assertNoCrash(t, r)
			if r.Code == 0 {
				t.Errorf("exec %s ran (exit 0): it can only name a leaked or runtime fd", fd)
			}
		}
		r := runWithFiles(t, b, leaked, "exec", b.ID, bundle.ProbePath, "report")
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		assertOnlyFDs(t, "exec", bundle.ParseReport(t, r.Stdout).FDs, 3)
	})
	t.Run("pid 1 fds", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t)
		const preserve = 2
		r := runWithFiles(t, b, leaked, "run", "--preserve-fds", strconv.Itoa(preserve), "--bundle", b.Dir, b.ID)
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		rep := bundle.ParseReport(t, r.Stdout)
		if rep.Pid != 1 {
			t.Fatalf("probe pid %d, want 1", rep.Pid)
		}
		assertOnlyFDs(t, "pid 1", rep.FDs, 3+preserve)
		for fd := 3; fd < 3+preserve; fd++ {
			if rep.FDs[fd] == "" {
				t.Errorf("preserved fd %d missing in pid 1", fd)
			}
		}
	})
}

// assertOnlyFDs fails t for any fd at or above limit, except the probe's own:
// the Go runtime's netpoller and the cgroup CPU limit files it reads at
// startup to size GOMAXPROCS.
func assertOnlyFDs(t *testing.T, who string, fds map[int]string, limit int) {
	t.Helper()
	for fd, target := range fds {
		own := target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]" ||
			strings.HasSuffix(target, "/cpu.cfs_quota_us") || strings.HasSuffix(target, "/cpu.cfs_period_us") ||
			strings.HasSuffix(target, "/cpu.max")
		if fd >= limit && !own {
			t.Errorf("%s holds fd %d -> %s: only stdio and preserved fds (< %d) may reach the container", who, fd, target, limit)
		}
	}
}
