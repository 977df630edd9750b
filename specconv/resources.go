package specconv

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func convertCgroup(l *specs.Linux, c *configs.Config, ps *problem.List) {
	ps.Add(checkNUL("linux.cgroupsPath", l.CgroupsPath))
	// cgroupfs semantics (not systemd's slice:prefix:name): a ".." would
	// climb out of the hierarchy or the runtime's own cgroup.
	if !c.Cgroups.Systemd && slices.Contains(strings.Split(l.CgroupsPath, "/"), "..") {
		ps.Errorf("linux.cgroupsPath", l.CgroupsPath, "a path below the runtime's cgroup (relative) or the hierarchy's root (absolute), without \"..\"",
			"%s must not contain \"..\"", problem.Q(l.CgroupsPath))
	}
	c.Cgroups.Path = l.CgroupsPath
	r := &configs.Resources{}
	if in := l.Resources; in != nil {
		r.Devices = convertDeviceRules(in.Devices, ps)
		r.Memory = convertMemory(in.Memory)
		r.CPU = convertCPU(in.CPU)
		if in.Pids != nil && in.Pids.Limit != nil {
			r.Pids = &configs.Pids{Limit: *in.Pids.Limit}
		}
		r.BlockIO = convertBlockIO(in.BlockIO)
		for i, h := range in.HugepageLimits {
			if !validPagesize(h.Pagesize) {
				ps.Errorf(fmt.Sprintf("linux.resources.hugepageLimits[%d].pageSize", i), h.Pagesize, "the hugetlb file name's size, as in /sys/kernel/mm/hugepages: \"2MB\", \"1GB\"",
					"want <size><unit>B like \"2MB\", got %s", problem.Q(h.Pagesize))
				continue
			}
			r.HugepageLimits = append(r.HugepageLimits, configs.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
		}
		if n := in.Network; n != nil {
			r.Network = &configs.Network{ClassID: clonePtr(n.ClassID)}
			for _, p := range n.Priorities {
				r.Network.Priorities = append(r.Network.Priorities, configs.InterfacePriority{Name: p.Name, Priority: p.Priority})
			}
		}
		if len(in.Rdma) > 0 {
			r.Rdma = make(map[string]configs.Rdma, len(in.Rdma))
			for k, v := range in.Rdma {
				r.Rdma[k] = configs.Rdma{HcaHandles: clonePtr(v.HcaHandles), HcaObjects: clonePtr(v.HcaObjects)}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(in.Unified)) {
			// Keys are file names in the container's cgroup directory.
			if k == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
				ps.Errorf("linux.resources.unified", k, "keys are file names in the cgroup directory, e.g. \"memory.high\"", "invalid file name %s", problem.Q(k))
			}
		}
		r.Unified = maps.Clone(in.Unified)
	}
	r.Devices = append(r.Devices, defaultRules(l.Devices)...)
	c.Cgroups.Resources = r
}

func convertDeviceRules(in []specs.LinuxDeviceCgroup, ps *problem.List) []configs.DeviceRule {
	var out []configs.DeviceRule
	for i, d := range in {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		n := len(*ps)
		rule := configs.DeviceRule{Allow: d.Allow, Type: 'a', Major: -1, Minor: -1, Access: d.Access}
		switch d.Type {
		case "", "a":
		case "c", "b":
			rule.Type = rune(d.Type[0])
		default:
			ps.Errorf(field+".type", d.Type, `"a" (all), "c" (character) or "b" (block)`, "unknown device type %s, want a, c or b", problem.Q(d.Type))
		}
		if d.Major != nil {
			if *d.Major < 0 {
				ps.Errorf(field+".major", *d.Major, "leave major out to match every major number", "must be >= 0, got %d", *d.Major)
			}
			rule.Major = *d.Major
		}
		if d.Minor != nil {
			if *d.Minor < 0 {
				ps.Errorf(field+".minor", *d.Minor, "leave minor out to match every minor number", "must be >= 0, got %d", *d.Minor)
			}
			rule.Minor = *d.Minor
		}
		if d.Access == "" {
			// runc refuses it too; the cgroup v1 file would read it as "no access".
			ps.Errorf(field+".access", "", `some of "r" (read), "w" (write), "m" (mknod), e.g. "rwm"`, "must not be empty")
		} else if strings.Trim(d.Access, "rwm") != "" {
			ps.Errorf(field+".access", d.Access, `some of "r" (read), "w" (write), "m" (mknod), e.g. "rwm"`, "must be a subset of \"rwm\", got %s", problem.Q(d.Access))
		}
		if len(*ps) == n {
			out = append(out, rule)
		}
	}
	return out
}

func convertMemory(m *specs.LinuxMemory) *configs.Memory {
	if m == nil {
		return nil
	}
	return &configs.Memory{
		Limit:             clonePtr(m.Limit),
		Reservation:       clonePtr(m.Reservation),
		Swap:              clonePtr(m.Swap),
		Kernel:            clonePtr(m.Kernel), //nolint:staticcheck // carried so the cgroup manager can say it ignores it
		KernelTCP:         clonePtr(m.KernelTCP),
		Swappiness:        clonePtr(m.Swappiness),
		DisableOOMKiller:  clonePtr(m.DisableOOMKiller),
		UseHierarchy:      clonePtr(m.UseHierarchy),
		CheckBeforeUpdate: clonePtr(m.CheckBeforeUpdate),
	}
}

func convertCPU(c *specs.LinuxCPU) *configs.CPU {
	if c == nil {
		return nil
	}
	return &configs.CPU{
		Shares:          clonePtr(c.Shares),
		Quota:           clonePtr(c.Quota),
		Burst:           clonePtr(c.Burst),
		Period:          clonePtr(c.Period),
		RealtimeRuntime: clonePtr(c.RealtimeRuntime),
		RealtimePeriod:  clonePtr(c.RealtimePeriod),
		Cpus:            c.Cpus,
		Mems:            c.Mems,
		Idle:            clonePtr(c.Idle),
	}
}

func convertBlockIO(b *specs.LinuxBlockIO) *configs.BlockIO {
	if b == nil {
		return nil
	}
	out := &configs.BlockIO{
		Weight:     clonePtr(b.Weight),
		LeafWeight: clonePtr(b.LeafWeight),
	}
	for _, w := range b.WeightDevice {
		out.WeightDevice = append(out.WeightDevice, configs.WeightDevice{
			Major: w.Major, Minor: w.Minor, Weight: clonePtr(w.Weight), LeafWeight: clonePtr(w.LeafWeight),
		})
	}
	throttle := func(in []specs.LinuxThrottleDevice) []configs.ThrottleDevice {
		var out []configs.ThrottleDevice
		for _, t := range in {
			out = append(out, configs.ThrottleDevice{Major: t.Major, Minor: t.Minor, Rate: t.Rate})
		}
		return out
	}
	out.ThrottleReadBpsDevice = throttle(b.ThrottleReadBpsDevice)
	out.ThrottleWriteBpsDevice = throttle(b.ThrottleWriteBpsDevice)
	out.ThrottleReadIOPSDevice = throttle(b.ThrottleReadIOPSDevice)
	out.ThrottleWriteIOPSDevice = throttle(b.ThrottleWriteIOPSDevice)
	return out
}

// validPagesize checks the "<number><unit>B" form used in the hugetlb file
// names (hugetlb.2MB.limit_in_bytes); anything else would build a bad path.
func validPagesize(s string) bool {
	num, ok := strings.CutSuffix(s, "B")
	if !ok || len(num) < 2 {
		return false
	}
	unit := num[len(num)-1]
	if !strings.ContainsRune("KMGTPE", rune(unit)) {
		return false
	}
	num = num[:len(num)-1]
	for _, r := range num {
		if r < '0' || r > '9' {
			return false
		}
	}
	return num != ""
}
