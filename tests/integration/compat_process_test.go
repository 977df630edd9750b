package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Process behaviours of issue 15 (compatibility with runc 1.4).

// withoutNamespace drops one namespace type from the config.
func withoutNamespace(typ specs.LinuxNamespaceType) bundle.Option {
	return bundle.WithSpec(func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != typ {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	})
}

// TestCPUAffinityReset: a runtime pinned to one CPU (taskset, a pinned
// shim) does not pin the container: its init and exec'd processes run on
// the CPUs of their cgroup's cpuset, as with runc 1.4.
func TestCPUAffinityReset(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/devices/system/cpu/cpu1"); err != nil {
		t.Skip("needs CPUs 0 and 1")
	}
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if cpus := cpusAllowedList(string(own)); cpus != "0-1" {
		t.Skipf("the test process may run on %s, the test wants 0-1", cpus)
	}
	pinned := bundle.RunOpts{Wrap: []string{"taskset", "-c", "0"}}
	// No cpuset: every CPU; a cpuset without the runtime's CPU: the cpuset's.
	for _, cpuset := range []string{"", "1"} {
		t.Run("cpuset="+cpuset, func(t *testing.T) {
			t.Parallel()
			want := "0-1"
			b := bundle.New(t, bundle.WithProbe("sleep", "60"), bundle.WithSpec(func(s *specs.Spec) {
				if cpuset != "" {
					s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: cpuset, Mems: "0"}
					want = cpuset
				}
			}))
			if r := b.RunWith(t, pinned, "run", "-d", "--bundle", b.Dir, b.ID); r.Code != 0 {
				t.Fatalf("%v", r)
			}
			status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(b.MustState(t).Pid), "status"))
			if err != nil {
				t.Fatal(err)
			}
			if cpus := cpusAllowedList(string(status)); cpus != want {
				t.Errorf("init of a runtime pinned to CPU 0 runs on CPUs %q, want %s", cpus, want)
			}
			r := b.RunWith(t, pinned, "exec", b.ID, bundle.ProbePath, "procattrs")
			if r.Code != 0 {
				t.Fatalf("%v", r)
			}
			if a := parseProcAttrs(t, r); a.CpusAllowed != want {
				t.Errorf("exec from a runtime pinned to CPU 0 runs on CPUs %q, want %s", a.CpusAllowed, want)
			}
		})
	}
}

// TestHostPidNSKillAll: without a pid namespace of its own, the init's death
// does not end the container's other processes. `kill ID KILL` and `delete`
// kill every process of the container's cgroup (runc 1.4), so the container
// stops and its cgroup can go.
func TestHostPidNSKillAll(t *testing.T) {
	t.Parallel()
	// The background probe outlives its shell unless the runtime kills it.
	script := "/bin/probe sleep 60 & echo $! > /tmp/bg.pid; exec /bin/probe sleep 60"
	for _, how := range []string{"kill", "delete"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", script), withoutNamespace(specs.PIDNamespace))
			b.RunDetached(t)
			init := b.MustState(t).Pid
			bgPid := waitPidFile(t, filepath.Join(b.Rootfs, "tmp", "bg.pid"))
			if how == "kill" {
				b.MustRun(t, "kill", b.ID, "KILL")
			} else if err := unix.Kill(init, unix.SIGKILL); err != nil {
				// The init dies on its own (an OOM kill, a crash).
				t.Fatal(err)
			}
			b.WaitStatus(t, specs.StateStopped, 5*time.Second)
			if how == "kill" && !waitPidGone(bgPid, 5*time.Second) {
				t.Errorf("kill KILL left process %d of the container's cgroup alive", bgPid)
			}
			if r := b.Run(t, "delete", b.ID); r.Code != 0 {
				t.Fatalf("delete of the stopped container: %v", r)
			}
			if !waitPidGone(bgPid, 5*time.Second) {
				t.Errorf("delete left process %d of the container's cgroup alive", bgPid)
			}
		})
	}
}

// waitPidFile waits for a pid a container writes into its rootfs.
func waitPidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if pid, aerr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && aerr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s: %v", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPidGone reports whether pid exits (or is a zombie) within d.
func waitPidGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return true
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestTimeNamespaceOffsetsFile: the offsets of linux.timeOffsets are the
// ones the kernel reports in /proc/self/timens_offsets inside (runc 1.4),
// nanoseconds included.
func TestTimeNamespaceOffsetsFile(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/timens_offsets"); err != nil {
		t.Skip("the kernel has no time namespaces")
	}
	b := bundle.New(t, bundle.WithArgs("/bin/cat", "/proc/self/timens_offsets"), bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"monotonic": {Secs: 1000, Nanosecs: 500},
			// Positive: a negative one the kernel refuses (ERANGE) on a machine
			// up for less than it.
			"boottime": {Secs: 20, Nanosecs: 7},
		}
	}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		if bundle.IsRunc(t) {
			b.CheckGone(t)
			t.Skipf("runc < 1.2 has no time namespace support: %s", strings.TrimSpace(r.Stderr))
		}
		t.Fatalf("%v", r)
	}
	// The kernel pads the columns.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	want := "monotonic 1000 500\nboottime 20 7"
	if strings.Join(lines, "\n") != want {
		t.Errorf("/proc/self/timens_offsets:\n%s\nwant:\n%s", r.Stdout, want)
	}
}
