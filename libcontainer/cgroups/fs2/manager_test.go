package fs2

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/moby/sys/mountinfo"

	"github.com/ocirun/ocirun/libcontainer/cgroups/devices"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestMain(m *testing.M) { cgtest.Main(m) }

// hostManager returns a manager for sub (joined with a unique name) under
// the test process's own cgroup in the cgroup2 tree. On a hybrid host
// that tree has no controllers, but freezing, CLONE_INTO_CGROUP and
// eBPF device programs work there too.
func hostManager(t *testing.T, sub string) *Manager {
	t.Helper()
	cgtest.RequireRoot(t)
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 || mounts[0].Root != "/" {
		t.Skip("no cgroup2 mount of the hierarchy root")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := ""
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			own = p
		}
	}
	mnt := mounts[0].Mountpoint
	top := filepath.Join(mnt, own, cgtest.Name(t))
	m := New(mnt, filepath.Join(top, sub))
	// Apply enables controllers in the test's own cgroup and its ancestors;
	// put back what was there so the host is left as found.
	restore := snapshotSubtree(t, mnt, filepath.Join(mnt, own))
	t.Cleanup(func() {
		if err := cgfile.RemoveTree(top); err != nil {
			t.Errorf("destroy: %v", err)
		}
		restore()
		if _, err := os.Stat(top); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Destroy (stat: %v)", top, err)
		}
	})
	return m
}

func snapshotSubtree(t *testing.T, mnt, own string) func() {
	before := map[string][]string{}
	for d := own; ; d = filepath.Dir(d) {
		before[d] = strings.Fields(read(t, d, "cgroup.subtree_control"))
		if d == mnt || d == "/" {
			break
		}
	}
	return func() {
		for d, was := range before {
			s, err := cgfile.ReadFile(d, "cgroup.subtree_control")
			if err != nil {
				t.Error(err)
				continue
			}
			for _, c := range strings.Fields(s) {
				if !slices.Contains(was, c) {
					if err := cgfile.WriteFile(d, "cgroup.subtree_control", "-"+c); err != nil {
						t.Errorf("restore %s/cgroup.subtree_control: %v", d, err)
					}
				}
			}
		}
	}
}

func needControllers(t *testing.T, m *Manager, ctrls ...string) {
	t.Helper()
	have := strings.Fields(read(t, m.path, "cgroup.controllers"))
	for _, c := range ctrls {
		if !slices.Contains(have, c) {
			t.Skipf("%s controller not enabled here (have %v): run in the v2 VM", c, have)
		}
	}
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	s, err := cgfile.ReadFile(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func TestApplyFreezeDestroy(t *testing.T) {
	m := hostManager(t, "")
	child := cgtest.StartSleeper(t, nil)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	pids, err := m.GetPids()
	if err != nil || !slices.Equal(pids, []int{child.Process.Pid}) {
		t.Errorf("GetPids = %v, %v; want [%d]", pids, err, child.Process.Pid)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if ev := read(t, m.path, "cgroup.events"); !strings.Contains(ev, "frozen 1") {
		t.Errorf("cgroup.events after Freeze: %q", ev)
	}
	if f, err := m.IsFrozen(); err != nil || !f {
		t.Errorf("IsFrozen = %v, %v after Freeze", f, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if f, err := m.IsFrozen(); err != nil || f {
		t.Errorf("IsFrozen = %v, %v after Thaw", f, err)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Error("Exists() after Destroy")
	}
}

func TestCgroupFD(t *testing.T) {
	m := hostManager(t, "leaf")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	fd, err := m.CgroupFD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	child := cgtest.StartSleeper(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())})
	b, err := os.ReadFile("/proc/" + strconv.Itoa(child.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "0::") || !strings.HasSuffix(strings.TrimSpace(string(b)), "/leaf") {
		t.Errorf("child's /proc/pid/cgroup = %q, want the leaf", b)
	}
}

func TestSetLimits(t *testing.T) {
	// A nested path makes Apply enable controllers in an intermediate dir.
	m := hostManager(t, "mid/leaf")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	needControllers(t, m, "memory", "pids", "cpu", "cpuset")
	child := cgtest.StartSleeper(t, nil)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	r := &configs.Resources{
		Memory: &configs.Memory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(96 << 20)), Reservation: ptr(int64(16 << 20))},
		Pids:   &configs.Pids{Limit: 42},
		CPU:    &configs.CPU{Shares: ptr(uint64(1024)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0", Mems: "0"},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory.max":  strconv.Itoa(64 << 20),
		"memory.low":  strconv.Itoa(16 << 20),
		"pids.max":    "42",
		"cpu.weight":  "39",
		"cpu.max":     "50000 100000",
		"cpuset.cpus": "0",
		"cpuset.mems": "0",
	}
	if cgfile.Exists(m.path, "memory.swap.max") {
		want["memory.swap.max"] = strconv.Itoa(32 << 20)
	}
	for f, v := range want {
		if got := read(t, m.path, f); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	// Only the period given: the quota stays.
	if err := m.Set(&configs.Resources{CPU: &configs.CPU{Period: ptr(uint64(200000))}}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, m.path, "cpu.max"); got != "50000 200000" {
		t.Errorf("cpu.max = %q after setting only the period", got)
	}
	if err := m.Set(&configs.Resources{Unified: map[string]string{"memory.high": "50000000"}}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, m.path, "memory.high"); got != "49999872" { // rounded down to pages
		t.Errorf("memory.high = %q", got)
	}
}

func TestUnavailableController(t *testing.T) {
	m := hostManager(t, "")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(strings.Fields(read(t, m.path, "cgroup.controllers")), "memory") {
		t.Skip("memory controller is enabled here")
	}
	err := m.Set(&configs.Resources{Memory: &configs.Memory{Limit: ptr(int64(1 << 20))}})
	if want := "linux.resources.memory.limit: memory controller not available"; err == nil || err.Error() != want {
		t.Errorf("Set memory = %v, want %q", err, want)
	}
	err = m.Set(&configs.Resources{Unified: map[string]string{"memory.high": "1"}})
	if want := `linux.resources.unified["memory.high"]: memory controller not available`; err == nil || err.Error() != want {
		t.Errorf("Set unified = %v, want %q", err, want)
	}
}

func TestDevicesEBPF(t *testing.T) {
	m := hostManager(t, "")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	fd, err := m.CgroupFD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	attr := &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	deny := []configs.DeviceRule{
		{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"},
		{Allow: true, Type: 'c', Major: 1, Minor: -1, Access: "rwm"},
		{Allow: false, Type: 'c', Major: 1, Minor: 3, Access: "w"}, // overrides the wildcard above
	}
	allow := []configs.DeviceRule{{Allow: true, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}}
	steps := []struct {
		rules []configs.DeviceRule
		open  map[string]string
	}{
		{deny, map[string]string{"/dev/null": "operation not permitted", "/dev/zero": "ok"}},
		{allow, map[string]string{"/dev/null": "ok"}}, // the update replaced the program
	}
	for i, s := range steps {
		if err := m.Set(&configs.Resources{Devices: s.rules}); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				t.Skipf("eBPF device programs not supported: %v", err)
			}
			t.Fatal(err)
		}
		for p, want := range s.open {
			if got := cgtest.StartOpener(t, p, attr).Go(); !strings.Contains(got, want) {
				t.Errorf("step %d: open %s = %q, want %q", i, p, got, want)
			}
		}
		if n := ourPrograms(t, m.path); n != 1 {
			t.Errorf("step %d: %d ocirun device programs attached, want 1", i, n)
		}
	}
}

func ourPrograms(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ap := range res.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := p.Info(); err == nil && info.Name == devices.ProgName {
			n++
		}
		p.Close()
	}
	return n
}
