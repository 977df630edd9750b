package integration

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

var (
	criuOnce sync.Once
	criuSkip string
)

// requireCriu skips t unless `criu check` passes: Debian's criu 3.17 fails
// on recent kernels ("vdso: Unexpected rt vDSO area bounds" on 6.18), for
// every runtime. contrib/test-cgroupv2.sh runs these tests in a 6.1 VM.
func requireCriu(t *testing.T) {
	t.Helper()
	criuOnce.Do(func() {
		path, err := exec.LookPath("criu")
		if err != nil {
			criuSkip = "criu is not installed"
			return
		}
		out, err := exec.Command(path, "check").CombinedOutput()
		if err != nil {
			// The first error is the cause; the last one only says "failed".
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			reason := lines[len(lines)-1]
			for _, l := range lines {
				if strings.Contains(l, "Error") {
					reason = l
					break
				}
			}
			criuSkip = "criu check fails here: " + reason
		}
	})
	if criuSkip != "" {
		t.Skip(criuSkip)
	}
}

// counterBundle runs a shell that counts in a variable (memory only) and
// writes each value to /data/count, a bind mount of a host directory,
// through a rename: a task killed mid-write (a failed restore kills them)
// never leaves the file empty. Its
// stdio go to the container's /dev/null: the test's stdout file is on a
// host mount criu cannot dump. With netns false the container shares the
// host's network and has no /sys: the host's /sys, bound in then, carries a
// bpffs criu cannot dump. setsid: criu refuses a session whose leader is
// outside the container's pid namespace (runc's init makes no session
// without a terminal either) unless --shell-job.
func counterBundle(t *testing.T, netns bool, opts ...bundle.Option) (*bundle.Bundle, string) {
	data := t.TempDir()
	own := []bundle.Option{
		bundle.WithArgs("/bin/busybox", "setsid", "/bin/sh", "-c", `exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i >/data/count.new; /bin/busybox mv /data/count.new /data/count; sleep 0.1; done`),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}})
			if netns {
				return
			}
			var mounts []specs.Mount
			for _, m := range s.Mounts {
				if !strings.HasPrefix(m.Destination, "/sys") {
					mounts = append(mounts, m)
				}
			}
			s.Mounts = mounts
			var keep []specs.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != specs.NetworkNamespace {
					keep = append(keep, ns)
				}
			}
			s.Linux.Namespaces = keep
		}),
	}
	b := bundle.New(t, append(own, opts...)...)
	return b, filepath.Join(data, "count")
}

// readCount returns the counter, retrying over a write in progress.
func readCount(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		b, err := os.ReadFile(path)
		if n, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never held a number", path)
	return 0
}

// waitCount waits until the counter passes min and returns it.
func waitCount(t *testing.T, path string, min int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			if n := readCount(t, path); n > min {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter in %s did not pass %d within %v", path, min, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// criuRun is MustRun that shows the end of criu's log on failure.
func criuRun(t *testing.T, b *bundle.Bundle, work, log string, args ...string) {
	t.Helper()
	r := b.Run(t, args...)
	if r.Code == 0 {
		return
	}
	data, _ := os.ReadFile(filepath.Join(work, log))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	t.Fatalf("%v\nlast lines of %s:\n%s", r, log, strings.Join(lines, "\n"))
}

// TestCheckpointRestore: a checkpoint stops the container and leaves images;
// the restored container runs with a new pid and counts on from where it was.
// The container has its own network namespace, as every container engine
// gives one; TestCheckpointRestoreHostNetwork is the variant without.
func TestCheckpointRestore(t *testing.T) {
	checkpointRestore(t, true)
}

func TestCheckpointRestoreHostNetwork(t *testing.T) {
	checkpointRestore(t, false)
}

func checkpointRestore(t *testing.T, netns bool) {
	requireCriu(t)
	// Each hook appends the state it got to its file, one line per run:
	// the first from the original create and start, the second from restore.
	markers := t.TempDir()
	appendHook := func(name string) []specs.Hook {
		return []specs.Hook{shHook("cat >> " + filepath.Join(markers, name) + "; echo >> " + filepath.Join(markers, name))}
	}
	b, count := counterBundle(t, netns, bundle.WithSpec(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:      appendHook("prestart"),
			CreateRuntime: appendHook("createRuntime"),
			Poststart:     appendHook("poststart"),
		}
		// While criu runs, the host must not see its root bind mount.
		s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, shHook("cat /proc/self/mountinfo >> "+filepath.Join(markers, "mountinfo")))
	}))
	b.RunDetached(t)
	before := b.MustState(t)
	waitCount(t, count, 5, 30*time.Second)

	images, work := t.TempDir(), t.TempDir()
	criuRun(t, b, work, "dump.log", "checkpoint", "--image-path", images, "--work-path", work, b.ID)
	if _, err := os.Stat(filepath.Join(images, "inventory.img")); err != nil {
		t.Errorf("no criu images after checkpoint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "dump.log")); err != nil {
		t.Errorf("no dump.log in --work-path: %v", err)
	}
	if bundle.ProcAlive(before.Pid) {
		t.Errorf("init %d still alive after checkpoint", before.Pid)
	}
	// As runc: the checkpointed container is gone, its id free for restore.
	if st, r, ok := b.State(t); ok && st.Status != specs.StateStopped {
		t.Errorf("state after checkpoint = %q, want stopped or no container: %v", st.Status, r)
	}
	last := readCount(t, count)
	time.Sleep(500 * time.Millisecond)
	if n := readCount(t, count); n != last {
		t.Fatalf("counter moved from %d to %d after checkpoint: the container still runs", last, n)
	}

	pidFile := filepath.Join(t.TempDir(), "pid")
	criuRun(t, b, work, "restore.log", "restore", "-d", "--image-path", images, "--work-path", work, "--bundle", b.Dir, "--pid-file", pidFile, b.ID)
	after := b.MustState(t)
	if after.Status != specs.StateRunning {
		t.Errorf("state after restore = %q, want running", after.Status)
	}
	if after.Pid <= 0 || after.Pid == before.Pid || !bundle.ProcAlive(after.Pid) {
		t.Errorf("restored init pid %d (before %d): want a new live pid", after.Pid, before.Pid)
	}
	if data, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(after.Pid) {
		t.Errorf("--pid-file holds %q (%v), state pid is %d", data, err, after.Pid)
	}
	if cg, err := os.ReadFile("/proc/" + strconv.Itoa(after.Pid) + "/cgroup"); err != nil || !strings.Contains(string(cg), "/"+b.CgroupsPath+"\n") {
		t.Errorf("restored init is not in the container's cgroup %s: %q (%v)", b.CgroupsPath, cg, err)
	}
	// The shell's variable came back from the images: it counts on from
	// last, not from zero.
	n := waitCount(t, count, last, 30*time.Second)
	if n > last+50 {
		t.Errorf("counter after restore = %d, last before = %d: not continued", n, last)
	}
	if netns {
		// criu restores the namespace empty: the runtime brings lo up again.
		if up, err := loopbackUp(after.Pid); err != nil || !up {
			t.Errorf("lo in the restored container's network namespace: up %v (%v), want up", up, err)
		}
	}
	if bundle.IsOcirun(t) {
		checkNoMountUnder(t, b.Root)
		if data, err := os.ReadFile(filepath.Join(markers, "mountinfo")); err != nil || strings.Contains(string(data), "criu-root") {
			t.Errorf("the host saw criu's root mount during restore (%v):\n%s", err, data)
		}
	}
	checkHookStates(t, markers, before.Pid, after.Pid, b.ID)
	b.MustRun(t, "kill", b.ID, "KILL")
	b.WaitStatus(t, specs.StateStopped, 10*time.Second)
}

// checkHookStates checks the states the hooks appended: from the create,
// the original init, and from the restore, the restored one; prestart and
// createRuntime run before the process runs (created), poststart after.
func checkHookStates(t *testing.T, markers string, pid0, pid1 int, id string) {
	t.Helper()
	for name, status := range map[string]specs.ContainerState{
		"prestart":      specs.StateCreated,
		"createRuntime": specs.StateCreated,
		"poststart":     specs.StateRunning,
	} {
		data, err := os.ReadFile(filepath.Join(markers, name))
		if err != nil {
			t.Errorf("hook %s never ran: %v", name, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 {
			t.Errorf("hook %s ran %d times, want 2 (create, restore):\n%s", name, len(lines), data)
			continue
		}
		for i, pid := range []int{pid0, pid1} {
			var st specs.State
			if err := json.Unmarshal([]byte(lines[i]), &st); err != nil {
				t.Errorf("hook %s run %d: state %q: %v", name, i+1, lines[i], err)
				continue
			}
			if st.ID != id || st.Pid != pid || st.Status != status {
				t.Errorf("hook %s run %d saw id %q pid %d status %q, want %q %d %q", name, i+1, st.ID, st.Pid, st.Status, id, pid, status)
			}
		}
	}
}

// checkNoMountUnder fails t if the host's mount table has a mount at or
// below dir (the restore's criu root lives in criu's own mount namespace).
func checkNoMountUnder(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			t.Errorf("mount left on the host under %s: %s", dir, l)
		}
	}
}

// loopbackUp reports whether lo is up in the network namespace of pid.
func loopbackUp(pid int) (bool, error) {
	type result struct {
		up  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, so no other
		// goroutine runs in the container's network namespace.
		runtime.LockOSThread()
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{up: lo.Flags&net.FlagUp != 0}
	}()
	r := <-done
	return r.up, r.err
}

// TestCheckpointLeaveRunning: with --leave-running the images are written
// and the same init keeps counting.
func TestCheckpointLeaveRunning(t *testing.T) {
	requireCriu(t)
	b, count := counterBundle(t, true)
	b.RunDetached(t)
	before := b.MustState(t)
	waitCount(t, count, 2, 30*time.Second)
	images := t.TempDir()
	criuRun(t, b, images, "dump.log", "checkpoint", "--leave-running", "--image-path", images, b.ID)
	if _, err := os.Stat(filepath.Join(images, "inventory.img")); err != nil {
		t.Errorf("no criu images after checkpoint: %v", err)
	}
	st := b.MustState(t)
	if st.Status != specs.StateRunning || st.Pid != before.Pid {
		t.Errorf("after checkpoint --leave-running: status %q pid %d, want running with pid %d", st.Status, st.Pid, before.Pid)
	}
	n := readCount(t, count)
	waitCount(t, count, n, 10*time.Second)
}

// TestRestoreFailureCleansUp: a restore criu cannot do leaves no state dir,
// cgroup or process behind (checked by the bundle's cleanup).
func TestRestoreFailureCleansUp(t *testing.T) {
	requireCriu(t)
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	images := t.TempDir()
	if err := os.WriteFile(filepath.Join(images, "descriptors.json"), []byte(`["/dev/null","/dev/null","/dev/null"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := b.Run(t, "restore", "-d", "--image-path", images, "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("restore from empty images succeeded: %v", r)
	}
	if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "restore.log") {
		t.Errorf("restore error does not point to criu's log: %v", r)
	}
	if _, _, ok := b.State(t); ok {
		t.Errorf("a failed restore left container %s", b.ID)
	}
	b.CheckGone(t)
}

// TestRestoreHookFailure: a createRuntime hook that fails during restore
// aborts it, and criu's restored tasks go with the container.
func TestRestoreHookFailure(t *testing.T) {
	requireCriu(t)
	b, count := counterBundle(t, true)
	b.RunDetached(t)
	waitCount(t, count, 2, 30*time.Second)
	images := t.TempDir()
	criuRun(t, b, images, "dump.log", "checkpoint", "--image-path", images, b.ID)
	b.Edit(t, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{shHook("echo restore-hook-broke >&2; exit 3")}}
	})
	r := b.Run(t, "restore", "-d", "--image-path", images, "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("restore with a failing createRuntime hook succeeded: %v", r)
	}
	if bundle.IsOcirun(t) && (!strings.Contains(r.Stderr, "hooks.createRuntime[0]") || !strings.Contains(r.Stderr, "restore-hook-broke")) {
		t.Errorf("restore error does not name the hook and its stderr: %v", r)
	}
	if _, _, ok := b.State(t); ok {
		t.Errorf("a failed restore left container %s", b.ID)
	}
	last := readCount(t, count)
	time.Sleep(500 * time.Millisecond)
	if n := readCount(t, count); n != last {
		t.Errorf("counter moved from %d to %d after a failed restore: its tasks still run", last, n)
	}
	b.CheckGone(t)
}

// TestCheckpointFlags: bad flags and states are refused before criu runs.
func TestCheckpointFlags(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.Create(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"checkpoint", "--manage-cgroups-mode", "bogus", b.ID}, "manage-cgroups-mode"},
		{[]string{"checkpoint", "--empty-ns", "pid", b.ID}, "empty-ns"},
		{[]string{"checkpoint", "--page-server", "nohost", b.ID}, "page-server"},
		{[]string{"checkpoint", "--image-path", t.TempDir(), b.ID}, "created"},
	} {
		r := b.Run(t, tc.args...)
		if r.Code == 0 {
			t.Errorf("%v succeeded", tc.args)
			continue
		}
		if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: error does not name %q: %s", tc.args, tc.want, r.Stderr)
		}
	}
	if st := b.MustState(t); st.Status != specs.StateCreated {
		t.Errorf("refused checkpoint changed the status to %q", st.Status)
	}
}
