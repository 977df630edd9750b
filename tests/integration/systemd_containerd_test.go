package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// containerd with a runc v2 runtime whose SystemdCgroup is true calls the
// runtime with --systemd-cgroup (as containerd's runc v2 shim passes SystemdCgroup). ctr sets the same option per
// container with --runc-systemd-cgroup, so a private containerd in the systemd
// container of systemd_host_test.go drives the whole path:
//
//	ctr → containerd → containerd-shim-runc-v2 → /ocirun-test/runtime --systemd-cgroup create ...
//	  → transient unit <prefix>-<id>.scope in the slice of the cgroupsPath
//
// Everything containerd keeps (content, snapshots, shim sockets, fifos) lies
// on the systemd container's /run and /var tmpfs, and its mounts in that
// container's mount namespace, so they go with it.

const (
	// ctrdNS and ctrdImage are contrib/test-containerd.sh's choices.
	ctrdNS    = "ocirun-test"
	ctrdImage = "docker.io/ocirun/busybox:test"
	ctrdSock  = "/run/ocirun-ctrd/containerd.sock"
	ctrdState = "/run/ocirun-ctrd/state"
	// ctrdRuntimeRoot is the shim's --runc-root; the shim adds the namespace.
	ctrdRuntimeRoot = "/run/ocirun-ctrd/runtime-root"
)

// ctrdConfig keeps containerd to its own paths. The opt plugin would make
// /opt/containerd in the container's rootfs; the CRI plugin is not needed by
// ctr and would start a CNI setup.
const ctrdConfig = `version = 2
root = "/var/lib/ocirun-ctrd"
state = "` + ctrdState + `"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "` + ctrdSock + `"
[ttrpc]
  address = "` + ctrdSock + `.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/ocirun-ctrd/opt"
`

// containerdIn is a containerd running in a systemd container.
type containerdIn struct {
	h *systemdHost
}

// TestSystemdContainerd: a task that ctr runs through containerd's runc v2
// shim with --runc-systemd-cgroup lands in the transient scope its cgroupsPath
// names, with the memory limit set on the unit; exec, pause and resume work
// through the shim, and kill plus delete stop the unit and leave no runtime
// state.
func TestSystemdContainerd(t *testing.T) {
	t.Parallel()
	if os.Getenv("OCIRUN_IN_VM") != "" {
		t.Skip("OCIRUN_IN_VM is set: the cgroup v2 VM image has no containerd")
	}
	for _, b := range []string{"containerd", "ctr", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s is missing (apt-get install containerd): %v", b, err)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is missing: the busybox image is built by contrib/containerd/mkimage: %v", err)
	}
	root, err := bundle.ModuleRoot()
	if err != nil {
		t.Skip(err)
	}

	h := startSystemd(t)
	// Built while containerd starts: go run takes about as long.
	imageDone := make(chan error, 1)
	go func() {
		cmd := exec.Command(goBin, "run", "./contrib/containerd/mkimage", "-o", filepath.Join(h.share, "busybox.oci.tar"))
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			imageDone <- fmt.Errorf("mkimage: %v\n%s", err, out)
			return
		}
		imageDone <- nil
	}()
	c := startContainerd(t, h)
	if err := <-imageDone; err != nil {
		t.Fatal(err)
	}
	c.mustCtr(t, "images", "import", sdShare+"/busybox.oci.tar")

	const id = "sdctr"
	unit := "ctrtest-" + id + ".scope"
	cgrel := "/system.slice/" + unit
	t.Cleanup(func() { c.removeContainer(t, id) })

	c.mustCtr(t, "run", "-d", "--null-io",
		"--runc-binary", sdRuntime, "--runc-root", ctrdRuntimeRoot, "--runc-systemd-cgroup",
		"--cgroup", "system.slice:ctrtest:"+id, "--memory-limit", "67108864",
		ctrdImage, id, "sleep", "60")
	// ctr passes --cgroup through unchanged as linux.cgroupsPath: it derives
	// no path of its own when --runc-systemd-cgroup is set.
	if cfg := c.h.mustExec(t, "cat", c.bundleDir(id)+"/config.json"); !strings.Contains(cfg, `"cgroupsPath":"system.slice:ctrtest:`+id+`"`) {
		t.Errorf("config.json the shim got has no cgroupsPath system.slice:ctrtest:%s: %s", id, cfg)
	}

	pid, status := c.task(t, id)
	if status != "RUNNING" {
		c.fatal(t, "after ctr run -d: task status %q, want RUNNING", status)
	}
	if p := h.unitProps(t, unit, "ActiveState"); p["ActiveState"] != "active" {
		c.fatal(t, "%s: ActiveState=%q, want active", unit, p["ActiveState"])
	}
	// v1 has memory, pids and name=systemd; v2 only the unified "".
	hiers := []string{"memory", "pids", "name=systemd"}
	if !cgroupV1() {
		hiers = []string{""}
	}
	cg := h.procCgroup(t, pid)
	for _, hier := range hiers {
		if got := cg[hier]; got != cgrel {
			t.Errorf("task pid %d in %q:%q, want %s (all: %v)", pid, hier, got, cgrel, cg)
		}
	}
	// Where the state is while the task runs, so its absence after rm means
	// the runtime removed it.
	if r := h.exec(t, "test", "-f", c.stateDir(id)+"/state.json"); r.Code != 0 {
		t.Errorf("no runtime state at %s while the task runs", c.stateDir(id))
	}
	memFile, memProp := "memory.limit_in_bytes", "MemoryLimit"
	if !cgroupV1() {
		memFile, memProp = "memory.max", "MemoryMax"
	}
	if p := h.unitProps(t, unit, memProp); p[memProp] != "67108864" {
		t.Errorf("%s: %s=%s, want 67108864 (ctr --memory-limit)", unit, memProp, p[memProp])
	}
	if got := c.h.scopeFile(t, cgrel, memFile); got != "67108864" {
		t.Errorf("%s: %s = %s, want 67108864", unit, memFile, got)
	}

	if out := c.mustCtr(t, "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo hi"); strings.TrimSpace(out) != "hi" {
		t.Errorf("ctr task exec printed %q, want hi", out)
	}

	// The freezer the runtime drives must be the scope's: on v1 a pause
	// through the wrong path would leave the task THAWED and still report
	// success.
	c.mustCtr(t, "task", "pause", id)
	if _, st := c.task(t, id); st != "PAUSED" {
		t.Errorf("after ctr task pause: status %q, want PAUSED", st)
	}
	if cgroupV1() {
		if got := c.h.scopeFile(t, cgrel, "freezer.state"); got != "FROZEN" {
			t.Errorf("after ctr task pause: freezer.state %s, want FROZEN", got)
		}
	}
	c.mustCtr(t, "task", "resume", id)
	if _, st := c.task(t, id); st != "RUNNING" {
		t.Errorf("after ctr task resume: status %q, want RUNNING", st)
	}
	if cgroupV1() {
		if got := c.h.scopeFile(t, cgrel, "freezer.state"); got != "THAWED" {
			t.Errorf("after ctr task resume: freezer.state %s, want THAWED", got)
		}
	}

	c.mustCtr(t, "task", "kill", "-s", "SIGKILL", id)
	c.waitStatus(t, id, "STOPPED")
	c.mustCtr(t, "task", "rm", id)
	c.mustCtr(t, "containers", "rm", id)
	c.checkGone(t, id, unit, cgrel)
}

// startContainerd starts containerd in the systemd container, logging to
// containerd.log in the share, and waits until it answers. Cleanup stops it;
// it is registered after the systemd container's, so it runs first.
func startContainerd(t *testing.T, h *systemdHost) *containerdIn {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.share, "containerd.toml"), []byte(ctrdConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &containerdIn{h: h}
	// Detached, with stdio on files: the exec returns when sh does, and the
	// shims containerd spawns inherit nothing of the exec either. A
	// non-interactive sh leaves a background job in its own process group,
	// so setsid is no group leader, does not fork, and $! is containerd's pid
	// (checked below: stop kills by it).
	h.mustExec(t, "sh", "-c", fmt.Sprintf(
		"setsid containerd --config %[1]s/containerd.toml </dev/null >%[1]s/containerd.log 2>&1 & echo $! >%[1]s/containerd.pid", sdShare))
	data, err := os.ReadFile(filepath.Join(h.share, "containerd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(data))
	t.Cleanup(func() { c.stop(t, pid) })

	deadline := time.Now().Add(10 * time.Second)
	for {
		r := h.exec(t, "ctr", "--address", ctrdSock, "version")
		if r.Code == 0 {
			return c
		}
		if comm := h.exec(t, "cat", "/proc/"+pid+"/comm"); strings.TrimSpace(comm.Stdout) != "containerd" {
			t.Fatalf("pid %s of the pid file is not containerd (%q): it exited at start?\n%s", pid, comm.Stdout, c.logTail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer on %s within 10s: %v\n%s", ctrdSock, r, c.logTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop kills containerd and waits for it to go. Shims outlive containerd by
// design; any left (a test that failed before rm) die with the systemd
// container's pid namespace.
func (c *containerdIn) stop(t *testing.T, pid string) {
	t.Helper()
	if c.h.exec(t, "kill", pid).Code != 0 {
		return // already gone
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.h.exec(t, "kill", "-0", pid).Code == 0 {
		if time.Now().After(deadline) {
			t.Errorf("containerd (pid %s) still alive 5s after SIGTERM; killing it", pid)
			c.h.exec(t, "kill", "-9", pid)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ctr runs ctr against the private containerd, in the test namespace.
func (c *containerdIn) ctr(t *testing.T, args ...string) bundle.Result {
	t.Helper()
	return c.h.exec(t, append([]string{"ctr", "--address", ctrdSock, "-n", ctrdNS}, args...)...)
}

func (c *containerdIn) mustCtr(t *testing.T, args ...string) string {
	t.Helper()
	r := c.ctr(t, args...)
	if r.Code != 0 {
		c.fatal(t, "ctr %s: %v", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// task returns the pid and status `ctr task ls` shows for id (0 and "" if
// there is no task).
func (c *containerdIn) task(t *testing.T, id string) (int, string) {
	t.Helper()
	out := c.mustCtr(t, "task", "ls")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("ctr task ls: bad pid in %q", l)
			}
			return pid, f[2]
		}
	}
	return 0, ""
}

// waitStatus polls `ctr task ls`: the shim reports a kill's effect once it has
// reaped the init, not when kill returns.
func (c *containerdIn) waitStatus(t *testing.T, id, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, st := c.task(t, id)
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			c.fatal(t, "task %s: status %q 5s on, want %s", id, st, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeContainer is cleanup for a test that stopped half way: it ignores
// errors, the container may be gone already.
func (c *containerdIn) removeContainer(t *testing.T, id string) {
	t.Helper()
	if pid, _ := c.task(t, id); pid != 0 {
		c.ctr(t, "task", "kill", "-a", "-s", "SIGKILL", id)
		deadline := time.Now().Add(5 * time.Second)
		for _, st := c.task(t, id); st != "STOPPED" && time.Now().Before(deadline); _, st = c.task(t, id) {
			time.Sleep(50 * time.Millisecond)
		}
		c.ctr(t, "task", "rm", "-f", id)
	}
	c.ctr(t, "containers", "rm", id)
}

// checkGone asserts that, after task rm and container rm, the unit is
// unloaded or inactive, its cgroup is gone from every hierarchy and the
// runtime's state under --runc-root is gone.
func (c *containerdIn) checkGone(t *testing.T, id, unit, cgrel string) {
	t.Helper()
	waitGone(t, func() []string {
		left := c.h.unitLeftovers(t, unit, cgrel)
		if c.h.exec(t, "test", "-e", c.stateDir(id)).Code == 0 {
			left = append(left, "runtime state dir left behind: "+c.stateDir(id))
		}
		return left
	})
}

// stateDir is the runtime's state dir for id: the shim hands the runtime
// --root <runc-root>/<namespace>.
func (c *containerdIn) stateDir(id string) string {
	return ctrdRuntimeRoot + "/" + ctrdNS + "/" + id
}

// bundleDir is where the shim keeps id's bundle, config.json and the
// runtime's log.json.
func (c *containerdIn) bundleDir(id string) string {
	return ctrdState + "/io.containerd.runtime.v2.task/" + ctrdNS + "/" + id
}

// fatal fails the test with what shows where a failure came from: the
// runtime's log.json of every bundle (the shim relays only the last error
// line) and containerd's log.
func (c *containerdIn) fatal(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	logs := c.h.exec(t, "sh", "-c", "tail -n 20 "+ctrdState+"/io.containerd.runtime.v2.task/"+ctrdNS+"/*/log.json")
	if logs.Stdout == "" {
		logs.Stdout = "(none: the shim removes the bundle of a failed create)\n"
	}
	msg += "\nruntime log.json:\n" + logs.Stdout
	t.Fatalf("%s\ncontainerd.log:\n%s", msg, c.logTail(20))
}

// logTail is the last n lines of containerd's log.
func (c *containerdIn) logTail(n int) string {
	data, err := os.ReadFile(filepath.Join(c.h.share, "containerd.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
