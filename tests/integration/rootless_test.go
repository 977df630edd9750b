package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestRootless runs the runtime as an unprivileged user made for the test,
// with the config its own `spec --rootless` writes, through a container's
// life: run -d, exec, kill, delete. The container's root is the user (a
// one-id map the user may write itself), its init runs as the user on the
// host, and nothing is left behind: no state, process or cgroup.
func TestRootless(t *testing.T) {
	t.Parallel()
	u := newRootlessUser(t)

	t.Run("lifecycle", func(t *testing.T) {
		t.Parallel()
		b := rootlessBundle(t, u, []string{bundle.ProbePath, "sleep", "60"}, nil)
		if r := u.run(t, b, "run", "-d", "--bundle", b.Dir, b.ID); r.Code != 0 {
			t.Fatalf("run -d as %s: %v", u.Name, r)
		}
		st := b.MustState(t)
		if st.Status != specs.StateRunning || st.Pid <= 0 {
			t.Fatalf("state after run -d: %+v", st)
		}
		if uid := procUID(t, st.Pid); uid != u.UID {
			t.Errorf("init runs as host uid %d, want the user's %d", uid, u.UID)
		}
		r := u.run(t, b, "exec", b.ID, bundle.ProbePath, "report")
		if r.Code != 0 {
			t.Fatalf("exec as %s: %v", u.Name, r)
		}
		rep := bundle.ParseReport(t, r.Stdout)
		checkMap(t, "uid_map", rep.UIDMap, [][3]uint32{{0, u.UID, 1}})
		checkMap(t, "gid_map", rep.GIDMap, [][3]uint32{{0, u.GID, 1}})
		if rep.UID != 0 || rep.GID != 0 {
			t.Errorf("exec'd process is %d:%d inside, want 0:0", rep.UID, rep.GID)
		}
		if strings.TrimSpace(rep.Setgroups) != "deny" {
			t.Errorf("setgroups = %q, want deny (the user wrote its own gid_map)", rep.Setgroups)
		}
		if rep.Namespaces["user"] == hostNS(t, "self", "user") {
			t.Errorf("exec'd process is in the host's user namespace")
		}
		if r := u.run(t, b, "kill", b.ID, "KILL"); r.Code != 0 {
			t.Fatalf("kill as %s: %v", u.Name, r)
		}
		b.WaitStatus(t, specs.StateStopped, 5*time.Second)
		if r := u.run(t, b, "delete", b.ID); r.Code != 0 {
			t.Fatalf("delete as %s: %v", u.Name, r)
		}
		b.CheckGone(t)
		if bundle.ProcAlive(st.Pid) {
			t.Errorf("init %d still alive after delete", st.Pid)
		}
	})

	// More ids than the user's own: newuidmap and newgidmap write the
	// maps from the ranges /etc/subuid and /etc/subgid grant. A file the
	// container's user 1000 creates in a volume belongs, on the host, to
	// the subordinate id 1000 maps to.
	t.Run("newuidmap", func(t *testing.T) {
		t.Parallel()
		for _, h := range []string{"newuidmap", "newgidmap"} {
			if _, err := os.Stat("/usr/bin/" + h); err != nil {
				if os.Getenv("OCIRUN_IN_VM") == "1" {
					t.Skipf("%s is not in the VM (the host runs this case)", h)
				}
				t.Fatalf("%s is missing: install Debian's uidmap package", h)
			}
		}
		vol := t.TempDir()
		if err := os.Chmod(vol, 0o777); err != nil {
			t.Fatal(err)
		}
		b := rootlessBundle(t, u, []string{"/bin/sh", "-c", "touch /vol/by-1000 && exec /bin/probe report"}, func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.UID, Size: 1}, {ContainerID: 1, HostID: u.SubUID, Size: subIDCount}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.GID, Size: 1}, {ContainerID: 1, HostID: u.SubGID, Size: subIDCount}}
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"bind"}})
		})
		r := u.run(t, b, "run", "--bundle", b.Dir, b.ID)
		if r.Code != 0 {
			t.Fatalf("run as %s: %v", u.Name, r)
		}
		rep := bundle.ParseReport(t, r.Stdout)
		checkMap(t, "uid_map", rep.UIDMap, [][3]uint32{{0, u.UID, 1}, {1, u.SubUID, subIDCount}})
		checkMap(t, "gid_map", rep.GIDMap, [][3]uint32{{0, u.GID, 1}, {1, u.SubGID, subIDCount}})
		if rep.UID != 1000 || rep.GID != 1000 {
			t.Errorf("process is %d:%d inside, want 1000:1000", rep.UID, rep.GID)
		}
		st, err := os.Stat(filepath.Join(vol, "by-1000"))
		if err != nil {
			t.Fatalf("the container's file: %v", err)
		}
		if uid, gid := statOwner(st); uid != u.SubUID+999 || gid != u.SubGID+999 {
			t.Errorf("file made by 1000:1000 inside is %d:%d on the host, want %d:%d", uid, gid, u.SubUID+999, u.SubGID+999)
		}
	})

	// A limit cannot be applied without a cgroup the user may write: the
	// create is refused, naming the field, and nothing is left; a config
	// without limits runs in the runtime's cgroup (the cases above).
	t.Run("limits without a delegated cgroup", func(t *testing.T) {
		t.Parallel()
		limit := int64(64)
		b := rootlessBundle(t, u, []string{bundle.ProbePath, "report"}, func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
		})
		r := u.run(t, b, "run", "--bundle", b.Dir, b.ID)
		if r.Code == 0 {
			t.Fatalf("run with a pids limit as %s, no cgroup delegated: succeeded\n%v", u.Name, r)
		}
		if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "linux.resources.pids: a limit needs a cgroup") {
			t.Errorf("error does not name the field: %s", r.Stderr)
		}
		b.CheckGone(t)
	})

	// On cgroup v2, a subtree delegated to the user (chowned, with its
	// controllers enabled) is used: the limits are applied and seen inside.
	t.Run("delegated cgroup v2", func(t *testing.T) {
		t.Parallel()
		d := delegateCgroup(t, u)
		const mem = 64 << 20
		b := rootlessBundle(t, u, []string{bundle.ProbePath, "report", "--cat", "/sys/fs/cgroup/memory.max", "--cat", "/sys/fs/cgroup/pids.max"}, func(s *specs.Spec) {
			s.Linux.CgroupsPath = d.containerPath
			m, pids := int64(mem), int64(50)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &m}, Pids: &specs.LinuxPids{Limit: &pids}}
		})
		b.CgroupsPath = d.rel // where CheckGone looks
		r := u.runIn(t, b, d.runtime, "run", "--bundle", b.Dir, b.ID)
		if r.Code != 0 {
			t.Fatalf("run as %s in the delegated %s: %v", u.Name, d.dir, r)
		}
		rep := bundle.ParseReport(t, r.Stdout)
		if got := strings.TrimSpace(rep.Cat["/sys/fs/cgroup/memory.max"]); got != strconv.Itoa(mem) {
			t.Errorf("memory.max inside = %q, want %d", got, mem)
		}
		if got := strings.TrimSpace(rep.Cat["/sys/fs/cgroup/pids.max"]); got != "50" {
			t.Errorf("pids.max inside = %q, want 50", got)
		}
		if !strings.Contains(rep.Cgroup, "0::/") {
			t.Errorf("/proc/self/cgroup = %q", rep.Cgroup)
		}
		if _, err := os.Stat(filepath.Join(d.dir, "ctr")); err == nil {
			t.Errorf("the container's cgroup %s is left after run", filepath.Join(d.dir, "ctr"))
		}
	})
}

// delegation is a cgroup v2 subtree given to a user: dir (chowned, with
// every controller enabled for its children), runtime (a leaf the runtime
// starts in) and containerPath (a cgroupsPath below dir, from the root).
type delegation struct {
	dir           string
	runtime       *os.File
	containerPath string
	rel           string // containerPath relative to our own cgroup
}

// delegateCgroup delegates a subtree of our own cgroup to u, the way
// systemd's Delegate=yes does: the dir and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads belong to the user. It skips
// where cgroup v2 is not the only hierarchy (the host; the VM runs it).
func delegateCgroup(t *testing.T, u *rootlessUser) *delegation {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skip("/sys/fs/cgroup is not cgroup v2: no subtree to delegate (make test-cgroupv2 runs this case)")
	}
	own := ""
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			own = rest
		}
	}
	// Our own cgroup holds processes (this test): the subtree goes beside
	// it, under its parent, whose controllers are enabled the same way.
	parent := filepath.Dir(own)
	name := "ocirun-rootless-" + u.Name
	rel := filepath.Join(parent, name)
	dir := filepath.Join("/sys/fs/cgroup", rel)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Rmdir(filepath.Join(dir, "runtime"))
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("remove the delegated cgroup %s: %v", dir, err)
		}
	})
	ctrls, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Fields(string(ctrls)) {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0); err != nil {
			t.Fatalf("enable %s in %s: %v", c, dir, err)
		}
	}
	if !strings.Contains(string(ctrls), "memory") || !strings.Contains(string(ctrls), "pids") {
		t.Skipf("%s lacks the memory or pids controller: %q", dir, ctrls)
	}
	if err := os.Mkdir(filepath.Join(dir, "runtime"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads", "runtime", "runtime/cgroup.procs", "runtime/cgroup.threads"} {
		if err := os.Chown(filepath.Join(dir, p), int(u.UID), int(u.GID)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	inOwn, err := filepath.Rel(own, filepath.Join(rel, "ctr"))
	if err != nil {
		t.Fatal(err)
	}
	return &delegation{dir: dir, runtime: f, containerPath: filepath.Join(rel, "ctr"), rel: inOwn}
}

// procUID is the real uid of pid, from the host's /proc.
func procUID(t *testing.T, pid int) uint32 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 32)
				return uint32(n)
			}
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return 0
}

// checkMap compares a /proc/self/uid_map or gid_map with its lines.
func checkMap(t *testing.T, name, got string, want [][3]uint32) {
	t.Helper()
	var lines []string
	for _, w := range want {
		lines = append(lines, fmt.Sprintf("%d %d %d", w[0], w[1], w[2]))
	}
	var have []string
	for line := range strings.SplitSeq(strings.TrimSpace(got), "\n") {
		have = append(have, strings.Join(strings.Fields(line), " "))
	}
	if strings.Join(have, "|") != strings.Join(lines, "|") {
		t.Errorf("%s = %q, want %q", name, got, strings.Join(lines, "\n"))
	}
}

// TestRootlessPodman: podman run by an unprivileged user whose cgroup v2
// subtree is delegated (the VM, through make test-cgroupv2; on the host,
// cgroup v1, contrib/test-podman.sh runs rootless podman without limits).
// podman maps the user's subordinate ids with newuidmap and runs conmon and
// the runtime as root of its user namespace; with --cgroup-parent in the
// delegated subtree the runtime makes the container's cgroup there and
// applies --memory and --pids-limit. run -d, exec, stop and rm go through
// too. OCIRUN_TEST_PODMAN_IMAGE is an OCI archive of a busybox image
// (contrib/containerd/mkimage makes one).
func TestRootlessPodman(t *testing.T) {
	t.Parallel()
	image := os.Getenv("OCIRUN_TEST_PODMAN_IMAGE")
	if image == "" {
		t.Skip("OCIRUN_TEST_PODMAN_IMAGE is not set (make test-cgroupv2 sets it; make test-podman covers the host)")
	}
	for _, p := range []string{"podman", "conmon", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed", p)
		}
	}
	u := newRootlessUser(t)
	d := delegateCgroup(t, u)
	// podman copies images through /var/tmp, which the VM lacks.
	if _, err := os.Stat("/var/tmp"); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll("/var/tmp", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod("/var/tmp", 0o1777); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(u.RuntimeDir, "home")
	rt := filepath.Join(u.RuntimeDir, "bin", filepath.Base(u.Runtime))
	if !bundle.IsOcirun(t) {
		rt = u.Runtime
	}
	conf := filepath.Join(u.RuntimeDir, "containers.conf")
	for _, dir := range []string{home, filepath.Dir(rt)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if bundle.IsOcirun(t) {
		if err := copyExecutable(u.Runtime, rt); err != nil {
			t.Fatal(err)
		}
	}
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	// The host's hard limits, as the runtime cannot raise one; file events;
	// the runtime's basename in runtime_supports_json for its error texts.
	err := os.WriteFile(conf, fmt.Appendf(nil, `[containers]
default_ulimits = ["nofile=%d:%d"]
[network]
network_config_dir = "%s/networks"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["%s"]
`, nofile.Max, nofile.Max, u.RuntimeDir, filepath.Base(rt)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := chownTree(u.RuntimeDir, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	// The containers go beside the runtime's leaf in the delegated
	// subtree: a cgroup with processes cannot pass controllers down.
	parent := filepath.Join(filepath.Dir(d.containerPath), "ctrs")
	podman := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*bundle.CommandTimeout)
		defer cancel()
		full := append([]string{"--root", filepath.Join(u.RuntimeDir, "storage"), "--runroot", filepath.Join(u.RuntimeDir, "run"),
			"--tmpdir", filepath.Join(u.RuntimeDir, "tmp"), "--storage-driver", "vfs", "--runtime", rt}, args...)
		cmd := exec.CommandContext(ctx, "podman", full...)
		cmd.Env = append(u.env(), "PATH="+os.Getenv("PATH"), "HOME="+home, "CONTAINERS_CONF="+conf)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred(), UseCgroupFD: true, CgroupFD: int(d.runtime.Fd())}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("podman %s: timed out: %s", strings.Join(args, " "), out)
		}
		return strings.TrimSpace(string(out)), err
	}
	t.Cleanup(func() {
		_, _ = podman("rm", "-af", "-t", "0")
		killUserProcesses(t, u.UID) // podman's pause process holds its user namespace
		_ = unix.Rmdir(filepath.Join("/sys/fs/cgroup", parent, "conmon"))
		_ = unix.Rmdir(filepath.Join("/sys/fs/cgroup", parent))
	})
	if out, err := podman("pull", "-q", "oci-archive:"+image); err != nil {
		t.Fatalf("podman pull as %s: %v: %s", u.Name, err, out)
	}
	const img = "docker.io/ocirun/busybox:test"
	run := []string{"run", "--pull", "never", "--network", "none", "--cgroup-parent", parent}

	out, err := podman(append(run, "--rm", "--memory", "64m", "--pids-limit", "40", img,
		"sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /proc/self/uid_map")...)
	if err != nil {
		t.Fatalf("podman run --memory 64m as %s: %v: %s", u.Name, err, out)
	}
	f := strings.Fields(out)
	want := []string{"67108864", "40", "0", fmt.Sprint(u.UID), "1", "1", fmt.Sprint(u.SubUID), fmt.Sprint(subIDCount)}
	if strings.Join(f[max(0, len(f)-len(want)):], " ") != strings.Join(want, " ") {
		t.Errorf("memory.max, pids.max and uid_map inside = %q, want %q", out, strings.Join(want, " "))
	}

	id, err := podman(append(run, "-d", "--memory", "32m", img, "sh", "-c", `trap "exit 143" TERM; while :; do sleep 0.1; done`)...)
	if err != nil {
		t.Fatalf("podman run -d as %s: %v: %s", u.Name, err, id)
	}
	id = id[strings.LastIndexByte(id, '\n')+1:]
	matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", parent, "*"+id+"*", "memory.max"))
	if len(matches) != 1 {
		t.Errorf("the container's cgroup under the delegated %s: %v", parent, matches)
	} else if got := strings.TrimSpace(readFile(t, matches[0])); got != "33554432" {
		t.Errorf("%s = %s on the host, want 33554432", matches[0], got)
	}
	if out, err := podman("exec", id, "sh", "-c", "echo exec-ok; exit 4"); err == nil || !strings.HasSuffix(out, "exec-ok") {
		t.Errorf("podman exec: %v: %q, want exit 4 and exec-ok", err, out)
	}
	if out, err := podman("stop", "-t", "10", id); err != nil {
		t.Errorf("podman stop: %v: %s", err, out)
	}
	if out, _ := podman("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id); !strings.HasSuffix(out, "exited 143") {
		t.Errorf("after stop: %q, want exited 143", out)
	}
	if out, err := podman("rm", id); err != nil {
		t.Errorf("podman rm: %v: %s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(u.RuntimeDir, "*", id)); len(left) > 0 {
		t.Errorf("runtime state left after rm: %v", left)
	}
}

// killUserProcesses SIGKILLs, by pid, every process of uid: the test made
// the user, so they are the test's.
func killUserProcesses(t *testing.T, uid uint32) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && statusUID(string(data)) == uid {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

func statusUID(status string) uint32 {
	for line := range strings.SplitSeq(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 32)
				return uint32(n)
			}
		}
	}
	return ^uint32(0)
}
