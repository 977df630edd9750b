package fs1

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestMain(m *testing.M) { cgtest.Main(m) }

// hostManager builds a manager for name under the test process's own cgroup
// in every v1 hierarchy (the root package's New does the same; it is
// rebuilt here so this package's tests do not import their parent).
func hostManager(t *testing.T) *Manager {
	t.Helper()
	cgtest.RequireRoot(t)
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 {
		t.Skip("no cgroup v1 hierarchy mounted")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		p := strings.SplitN(l, ":", 3)
		own[p[1]] = p[2]
	}
	name := cgtest.Name(t)
	var dirs []cgroups.Dir
	for _, mnt := range mounts {
		var ctrls []string
		for _, o := range strings.Split(mnt.VFSOptions, ",") {
			if o != "rw" && o != "ro" && !strings.Contains(o, "=") || strings.HasPrefix(o, "name=") {
				ctrls = append(ctrls, o)
			}
		}
		cur, ok := own[strings.Join(ctrls, ",")]
		if !ok || mnt.Root != "/" {
			continue
		}
		dirs = append(dirs, cgroups.Dir{Mountpoint: mnt.Mountpoint, Controllers: ctrls, Path: filepath.Join(mnt.Mountpoint, cur, name)})
	}
	m := New(dirs)
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("destroy: %v", err)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d.Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still there after Destroy (stat: %v)", d.Path, err)
			}
		}
	})
	return m
}

func need(t *testing.T, m *Manager, ctrl string) string {
	t.Helper()
	p := m.Path(ctrl)
	if p == "" {
		t.Skipf("%s controller not mounted", ctrl)
	}
	return p
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

func TestApplySetDestroy(t *testing.T) {
	m := hostManager(t)
	child := cgtest.StartSleeper(t, nil)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	for mnt, p := range m.Paths() {
		procs := read(t, p, "cgroup.procs")
		if !slices.Contains(strings.Fields(procs), strconv.Itoa(child.Process.Pid)) {
			t.Errorf("%s: child %d not in cgroup.procs %q", mnt, child.Process.Pid, procs)
		}
	}
	pids, err := m.GetPids()
	if err != nil || !slices.Contains(pids, child.Process.Pid) {
		t.Errorf("GetPids = %v, %v; want child %d", pids, err, child.Process.Pid)
	}
	r := &configs.Resources{
		Memory: &configs.Memory{Limit: ptr(int64(64 << 20)), Reservation: ptr(int64(32 << 20)), Swappiness: ptr(uint64(10))},
		Pids:   &configs.Pids{Limit: 42},
		CPU: &configs.CPU{
			Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)),
			Cpus: "0", Mems: "0",
		},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
		{"memory", "memory.soft_limit_in_bytes", strconv.Itoa(32 << 20)},
		{"memory", "memory.swappiness", "10"},
		{"pids", "pids.max", "42"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
	}
	for _, c := range checks {
		if p := m.Path(c.ctrl); p != "" {
			if got := read(t, p, c.file); got != c.want {
				t.Errorf("%s = %q, want %q", c.file, got, c.want)
			}
		}
	}
	// Unset fields touch nothing; pids -1 lifts the limit.
	if err := m.Set(&configs.Resources{Pids: &configs.Pids{Limit: -1}}); err != nil {
		t.Fatal(err)
	}
	if p := m.Path("pids"); p != "" {
		if got := read(t, p, "pids.max"); got != "max" {
			t.Errorf("pids.max = %q, want max", got)
		}
	}
	if p := m.Path("memory"); p != "" {
		if got := read(t, p, "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
			t.Errorf("memory limit changed by an unrelated Set: %q", got)
		}
	}
	if !m.Exists() {
		t.Error("Exists() = false after Apply")
	}
}

func TestMemorySwapOrder(t *testing.T) {
	m := hostManager(t)
	mem := need(t, m, "memory")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if !cgfile.Exists(mem, memswFile) {
		t.Skip("no swap accounting (memory.memsw.limit_in_bytes)")
	}
	// Shrink then grow: each needs a different write order, or the kernel
	// refuses with EINVAL because limit would exceed memsw.
	for _, v := range []int64{64 << 20, 32 << 20, 128 << 20} {
		if err := m.Set(&configs.Resources{Memory: &configs.Memory{Limit: ptr(v), Swap: ptr(2 * v)}}); err != nil {
			t.Fatalf("limit %d: %v", v, err)
		}
		if got := read(t, mem, memswFile); got != strconv.FormatInt(2*v, 10) {
			t.Errorf("memsw = %s, want %d", got, 2*v)
		}
	}
	if err := m.Set(&configs.Resources{Memory: &configs.Memory{Limit: ptr(int64(-1))}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := cgfile.ParseUintOrMax(read(t, mem, memswFile)); v != -1 {
		t.Errorf("memsw not lifted with an unlimited limit: %d", v)
	}
}

func TestDevicesDeny(t *testing.T) {
	m := hostManager(t)
	need(t, m, "devices")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	rules := []configs.DeviceRule{
		{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"},
		{Allow: true, Type: 'c', Major: 1, Minor: 5, Access: "rwm"}, // /dev/zero
	}
	if err := m.Set(&configs.Resources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, m.Path("devices"), "devices.list"); got != "c 1:5 rwm" {
		t.Errorf("devices.list = %q, want %q", got, "c 1:5 rwm")
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/null", "operation not permitted"},
		{"/dev/zero", "ok"},
	} {
		o := cgtest.StartOpener(t, tc.path, nil)
		if err := m.Apply(o.Pid); err != nil {
			t.Fatal(err)
		}
		if got := o.Go(); !strings.Contains(got, tc.want) {
			t.Errorf("open %s in the cgroup: %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestFreezeThaw(t *testing.T) {
	m := hostManager(t)
	dir := need(t, m, "freezer")
	child := cgtest.StartSleeper(t, nil)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if s := read(t, dir, "freezer.state"); s != "FROZEN" {
		t.Errorf("freezer.state = %q after Freeze", s)
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
	// Destroy must cope with the still-running child being killed first.
	_ = child.Process.Kill()
	_ = child.Wait()
}

func TestUnsetControllerErrors(t *testing.T) {
	m := New([]cgroups.Dir{{Mountpoint: "/nonexistent", Controllers: []string{"cpu"}, Path: "/nonexistent/x"}})
	tests := []struct {
		r    configs.Resources
		want string
	}{
		{configs.Resources{Memory: &configs.Memory{Limit: ptr(int64(1))}}, "linux.resources.memory.limit: memory controller not available"},
		{configs.Resources{Pids: &configs.Pids{Limit: 1}}, "linux.resources.pids.limit: pids controller not available"},
		{configs.Resources{Unified: map[string]string{"memory.high": "1"}}, "invalid configuration: cannot use unified on cgroup v1"},
		{configs.Resources{Network: &configs.Network{ClassID: ptr(uint32(1))}}, "linux.resources.network.classID: net_cls controller not available"},
		{configs.Resources{HugepageLimits: []configs.HugepageLimit{{Pagesize: "2MB", Limit: 1}}}, "linux.resources.hugepageLimits[0]: hugetlb controller not available"},
		{configs.Resources{Devices: []configs.DeviceRule{{Type: 'x'}}}, "linux.resources.devices[0].type"},
		{configs.Resources{Memory: &configs.Memory{Limit: ptr(int64(100)), Swap: ptr(int64(50))}}, "linux.resources.memory.swap: 50 is below"},
	}
	for _, tc := range tests {
		err := m.Set(&tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%+v) = %v, want %q", tc.r, err, tc.want)
		}
	}
}
