//go:build cgrouplib

package cgroups

// Prototype: the Manager interface backed by github.com/opencontainers/cgroups
// (runc's cgroup library), for measuring it against ocirun's own drivers.
// Paths are still resolved by ocirun (mountinfo, /proc/self/cgroup) and
// handed to the library explicitly; OOM notification stays ocirun's.

import (
	"errors"
	"fmt"
	"os"
	"strings"

	lcg "github.com/opencontainers/cgroups"
	_ "github.com/opencontainers/cgroups/devices" // registers the device managers
	lconf "github.com/opencontainers/cgroups/devices/config"
	lfs "github.com/opencontainers/cgroups/fs"
	lfs2 "github.com/opencontainers/cgroups/fs2"
	lsd "github.com/opencontainers/cgroups/systemd"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/fs2"
	"github.com/ocirun/ocirun/libcontainer/cgroups/stats"
	"github.com/ocirun/ocirun/libcontainer/cgroups/systemd"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// libWarn receives what the library logs at warning level or above (it
// logs through logrus, ocirun through slog in its root package only).
var libWarn func(string)

type warnHook struct{}

func (warnHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (warnHook) Fire(e *logrus.Entry) error {
	if libWarn != nil {
		libWarn(e.Message)
	}
	return nil
}

func init() {
	logrus.SetOutput(discard{})
	logrus.AddHook(warnHook{})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type libManager struct {
	lm   lcg.Manager
	cfg  *lcg.Cgroup
	dirs []fs1.Dir
	v2   bool
	unit string // systemd unit; "" for cgroupfs
}

// libPaths keys the dirs the library's way: v1 by controller ("" is a
// hybrid host's cgroup2 tree), v2 by "" alone.
func libPaths(dirs []fs1.Dir) map[string]string {
	p := map[string]string{}
	for _, d := range dirs {
		if d.V2 {
			p[""] = d.Path
			continue
		}
		for _, c := range d.Controllers {
			p[c] = d.Path
		}
	}
	return p
}

func v2Dir(dirs []fs1.Dir) (string, bool) {
	for _, d := range dirs {
		if d.V2 {
			return d.Path, true
		}
	}
	return "", false
}

func newManager(hs []Hierarchy, dirs []fs1.Dir) (Manager, error) {
	cfg := &lcg.Cgroup{Resources: &lcg.Resources{}}
	if pureV2(hs) {
		p, ok := v2Dir(dirs)
		if !ok {
			return nil, errors.New("no cgroup2 dir")
		}
		m, err := lfs2.NewManager(cfg, p)
		if err != nil {
			return nil, err
		}
		return &libManager{lm: m, cfg: cfg, dirs: dirs, v2: true}, nil
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchy is mounted")
	}
	m, err := lfs.NewManager(cfg, libPaths(dirs))
	if err != nil {
		return nil, err
	}
	return &libManager{lm: m, cfg: cfg, dirs: dirs}, nil
}

// unitName: the library names a scope prefix-name.scope, and "-name.scope"
// for an empty prefix (as runc does).
func unitName(u systemd.Unit) systemd.Unit {
	if !u.IsSlice() && !strings.Contains(u.Name, "-") {
		u.Name = "-" + u.Name
	}
	return u
}

// sdCgroup fills the library's unit naming fields from a unit name.
func sdCgroup(u systemd.Unit) *lcg.Cgroup {
	cfg := &lcg.Cgroup{Systemd: true, Parent: u.Slice, Resources: &lcg.Resources{}}
	if u.IsSlice() {
		cfg.Name = u.Name
		return cfg
	}
	base := strings.TrimSuffix(u.Name, ".scope")
	cfg.ScopePrefix, cfg.Name, _ = strings.Cut(base, "-")
	return cfg
}

func newSystemdManager(hs []Hierarchy, dirs []fs1.Dir, u systemd.Unit, c *configs.Cgroup) (Manager, error) {
	if !lsd.IsRunningSystemd() {
		return nil, errors.New("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system)")
	}
	cfg := sdCgroup(u)
	v2 := pureV2(hs)
	if c.Resources != nil && len(c.Resources.Devices) > 0 && lsd.GenerateDeviceProps != nil {
		// The device policy goes in at the unit's start (see the own
		// driver's Apply): on v1 a devices controller realized later
		// moves the unit's processes to the parent slice's cgroup.
		props, err := lsd.GenerateDeviceProps(toLib(c.Resources, v2), 240)
		if err != nil {
			return nil, err
		}
		cfg.SystemdProps = props
	}
	return newSystemdLib(dirs, cfg, u.Name, v2)
}

func newSystemdLib(dirs []fs1.Dir, cfg *lcg.Cgroup, unit string, v2 bool) (Manager, error) {
	var (
		m   lcg.Manager
		err error
	)
	if v2 {
		p, _ := v2Dir(dirs)
		m, err = lsd.NewUnifiedManager(cfg, p)
	} else {
		m, err = lsd.NewLegacyManager(cfg, libPaths(dirs))
	}
	if err != nil {
		return nil, err
	}
	return &libManager{lm: m, cfg: cfg, dirs: dirs, v2: v2, unit: unit}, nil
}

func loadSystemdManager(hs []Hierarchy, dirs []fs1.Dir, unit string) (Manager, error) {
	return newSystemdLib(dirs, sdCgroup(systemd.Unit{Name: unit}), unit, pureV2(hs))
}

// SystemdUnit returns the unit of a --systemd-cgroup manager, "" for the
// cgroupfs managers; it is what the state saves for LoadSystemd.
func SystemdUnit(m Manager) string {
	if l, ok := m.(*libManager); ok {
		return l.unit
	}
	return ""
}

func (m *libManager) SetWarn(f func(string)) { libWarn = f }

func (m *libManager) Apply(pid int) error {
	if pid == -1 && m.unit != "" {
		// A scope cannot be started empty: systemd starts it with the pid.
		return nil
	}
	return m.lm.Apply(pid)
}

func (m *libManager) CgroupFD() (*os.File, error) {
	if !m.v2 || m.unit != "" {
		return nil, errors.New("cgroup fd: CLONE_INTO_CGROUP needs cgroup v2 and the cgroupfs driver")
	}
	p := m.lm.Path("")
	fd, err := unix.Open(p, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

func (m *libManager) Set(r *configs.Resources) error {
	if r == nil {
		return nil
	}
	if !m.v2 && len(r.Unified) > 0 {
		return errors.New("linux.resources.unified: requires cgroup v2")
	}
	return m.lm.Set(toLib(r, m.v2))
}

func (m *libManager) Destroy() error { return m.lm.Destroy() }

func (m *libManager) Paths() map[string]string {
	p := make(map[string]string, len(m.dirs))
	for _, d := range m.dirs {
		p[d.Mountpoint] = d.Path
	}
	return p
}

func (m *libManager) Path(controller string) string { return m.lm.Path(controller) }

func (m *libManager) GetPids() ([]int, error) { return m.lm.GetAllPids() }
func (m *libManager) Freeze() error           { return m.lm.Freeze(lcg.Frozen) }
func (m *libManager) Thaw() error             { return m.lm.Freeze(lcg.Thawed) }

func (m *libManager) IsFrozen() (bool, error) {
	s, err := m.lm.GetFreezerState()
	return s == lcg.Frozen, err
}

func (m *libManager) Exists() bool { return m.lm.Exists() }

func (m *libManager) NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error) {
	if m.v2 {
		return fs2.New("", m.lm.Path("")).NotifyOOM(stop)
	}
	return fs1.New(m.dirs).NotifyOOM(stop)
}

func (m *libManager) Stats() (*stats.Stats, error) {
	ls, err := m.lm.GetStats()
	if err != nil {
		return nil, err
	}
	return fromLib(ls), nil
}

func fromLib(ls *lcg.Stats) *stats.Stats {
	s := &stats.Stats{Hugetlb: map[string]stats.Hugetlb{}}
	cu := ls.CpuStats.CpuUsage
	s.CPU.Usage = stats.CPUUsage{
		Total: cu.TotalUsage, Percpu: cu.PercpuUsage,
		PercpuKernel: cu.PercpuUsageInKernelmode, PercpuUser: cu.PercpuUsageInUsermode,
		Kernel: cu.UsageInKernelmode, User: cu.UsageInUsermode,
	}
	t := ls.CpuStats.ThrottlingData
	s.CPU.Throttling = stats.Throttling{Periods: t.Periods, ThrottledPeriods: t.ThrottledPeriods, ThrottledTime: t.ThrottledTime}
	mem := func(d lcg.MemoryData) stats.MemoryEntry {
		return stats.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
	}
	ms := ls.MemoryStats
	s.Memory = stats.Memory{
		Cache: ms.Cache, Usage: mem(ms.Usage), Swap: mem(ms.SwapUsage),
		Kernel: mem(ms.KernelUsage), KernelTCP: mem(ms.KernelTCPUsage), Raw: ms.Stats,
	}
	s.Pids = stats.Pids{Current: ls.PidsStats.Current, Limit: ls.PidsStats.Limit}
	blk := func(es []lcg.BlkioStatEntry) []stats.BlkioEntry {
		var out []stats.BlkioEntry
		for _, e := range es {
			out = append(out, stats.BlkioEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
		}
		return out
	}
	s.Blkio = stats.Blkio{IoServiceBytesRecursive: blk(ls.BlkioStats.IoServiceBytesRecursive), IoServicedRecursive: blk(ls.BlkioStats.IoServicedRecursive)}
	for k, h := range ls.HugetlbStats {
		s.Hugetlb[k] = stats.Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return s
}

// toLib converts ocirun's "nil is unset" resources into the library's
// "zero is unset" ones. No device rules means: leave the devices alone (an
// update), not "deny everything".
func toLib(r *configs.Resources, v2 bool) *lcg.Resources {
	out := &lcg.Resources{SkipDevices: len(r.Devices) == 0}
	for _, d := range r.Devices {
		out.Devices = append(out.Devices, &lconf.Rule{
			Type: lconf.Type(d.Type), Major: d.Major, Minor: d.Minor,
			Permissions: lconf.Permissions(d.Access), Allow: d.Allow,
		})
	}
	i64 := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	u64 := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	if m := r.Memory; m != nil {
		out.Memory, out.MemoryReservation, out.MemorySwap = i64(m.Limit), i64(m.Reservation), i64(m.Swap)
		out.MemorySwappiness = m.Swappiness
		out.OomKillDisable = m.DisableOOMKiller != nil && *m.DisableOOMKiller
		out.MemoryCheckBeforeUpdate = m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate
	}
	if c := r.CPU; c != nil {
		out.CpuShares = u64(c.Shares)
		if v2 {
			out.CpuWeight = fs2.SharesToWeight(out.CpuShares)
		}
		out.CpuQuota, out.CpuPeriod, out.CpuBurst = i64(c.Quota), u64(c.Period), c.Burst
		out.CpuRtRuntime, out.CpuRtPeriod = i64(c.RealtimeRuntime), u64(c.RealtimePeriod)
		out.CpusetCpus, out.CpusetMems, out.CPUIdle = c.Cpus, c.Mems, c.Idle
	}
	if r.Pids != nil {
		l := r.Pids.Limit
		if l <= 0 {
			l = -1
		}
		out.PidsLimit = &l
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			out.BlkioWeight = *b.Weight
		}
		if b.LeafWeight != nil {
			out.BlkioLeafWeight = *b.LeafWeight
		}
		for _, w := range b.WeightDevice {
			var wt, lw uint16
			if w.Weight != nil {
				wt = *w.Weight
			}
			if w.LeafWeight != nil {
				lw = *w.LeafWeight
			}
			out.BlkioWeightDevice = append(out.BlkioWeightDevice, lcg.NewWeightDevice(w.Major, w.Minor, wt, lw))
		}
		for _, l := range []struct {
			src []configs.ThrottleDevice
			dst *[]*lcg.ThrottleDevice
		}{
			{b.ThrottleReadBpsDevice, &out.BlkioThrottleReadBpsDevice},
			{b.ThrottleWriteBpsDevice, &out.BlkioThrottleWriteBpsDevice},
			{b.ThrottleReadIOPSDevice, &out.BlkioThrottleReadIOPSDevice},
			{b.ThrottleWriteIOPSDevice, &out.BlkioThrottleWriteIOPSDevice},
		} {
			for _, t := range l.src {
				*l.dst = append(*l.dst, lcg.NewThrottleDevice(t.Major, t.Minor, t.Rate))
			}
		}
	}
	for _, h := range r.HugepageLimits {
		out.HugetlbLimit = append(out.HugetlbLimit, &lcg.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			out.NetClsClassid = *n.ClassID
		}
		for _, p := range n.Priorities {
			out.NetPrioIfpriomap = append(out.NetPrioIfpriomap, &lcg.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		out.Rdma = map[string]lcg.LinuxRdma{}
		for k, v := range r.Rdma {
			out.Rdma[k] = lcg.LinuxRdma{HcaHandles: v.HcaHandles, HcaObjects: v.HcaObjects}
		}
	}
	if len(r.Unified) > 0 {
		out.Unified = r.Unified
	}
	return out
}
