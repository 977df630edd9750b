package systemd

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// infinity is systemd's "no limit" for the uint64 limit properties.
const infinity = uint64(math.MaxUint64)

// defaultCFSPeriod is the kernel's cpu.cfs_period_us default, which
// systemd's CPUQuotaPerSecUSec is relative to when no period is given.
const defaultCFSPeriod = 100000

func prop(name string, v any) sddbus.Property {
	return sddbus.Property{Name: name, Value: godbus.MakeVariant(v)}
}

// startProperties are the properties of the transient unit at creation.
// Delegate lets the container (a systemd inside, `exec --cgroup`) manage its
// own sub-cgroups; without DefaultDependencies the unit does not wait for
// (or get stopped by) basic.target and shutdown ordering it has no part in.
func startProperties(u Unit, pid int, v2 bool) []sddbus.Property {
	props := []sddbus.Property{
		sddbus.PropDescription("ocirun container " + u.Name),
		prop("DefaultDependencies", false),
		prop("MemoryAccounting", true),
		prop("CPUAccounting", true),
		prop("TasksAccounting", true),
	}
	if v2 {
		props = append(props, prop("IOAccounting", true))
	} else {
		props = append(props, prop("BlockIOAccounting", true))
	}
	if u.IsSlice() {
		// A slice's parent is implied by its name; Wants= keeps the
		// requested slice up while this one is.
		return append(props, sddbus.PropWants(u.Slice))
	}
	props = append(props, sddbus.PropSlice(u.Slice), prop("Delegate", true))
	if pid > 0 {
		props = append(props, sddbus.PropPids(uint32(pid)))
	}
	return props
}

// resourceProperties translates r into unit properties, so that systemd's
// idea of the unit (re-applied on daemon-reload) matches what the cgroupfs
// manager writes. Fields systemd has no property for are left to cgroupfs.
func resourceProperties(r *configs.Resources, v2 bool) ([]sddbus.Property, error) {
	if r == nil {
		return nil, nil
	}
	if v2 {
		return v2Properties(r)
	}
	return v1Properties(r), nil
}

func v1Properties(r *configs.Resources) []sddbus.Property {
	var props []sddbus.Property
	if m := r.Memory; m != nil && m.Limit != nil && *m.Limit != 0 {
		props = append(props, prop("MemoryLimit", limit(*m.Limit)))
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			props = append(props, prop("CPUShares", *c.Shares))
		}
		props = append(props, cpuQuota(c)...)
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		props = append(props, prop("BlockIOWeight", uint64(*b.Weight)))
	}
	if r.Pids != nil {
		props = append(props, prop("TasksMax", tasksMax(r.Pids.Limit)))
	}
	return props
}

func v2Properties(r *configs.Resources) ([]sddbus.Property, error) {
	var props []sddbus.Property
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit != 0 {
			props = append(props, prop("MemoryMax", limit(*m.Limit)))
		}
		if m.Reservation != nil && *m.Reservation != 0 {
			props = append(props, prop("MemoryLow", limit(*m.Reservation)))
		}
		swap, set, err := cgroups.SwapMax(m.Swap, m.Limit)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
		if set {
			v, err := parseMax(swap)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.memory.swap: %w", err)
			}
			props = append(props, prop("MemorySwapMax", v))
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil && *c.Shares != 0 {
			props = append(props, prop("CPUWeight", cgroups.SharesToWeight(*c.Shares)))
		}
		props = append(props, cpuQuota(c)...)
		for _, s := range []struct{ field, list, name string }{
			{"cpus", c.Cpus, "AllowedCPUs"},
			{"mems", c.Mems, "AllowedMemoryNodes"},
		} {
			if s.list == "" {
				continue
			}
			mask, err := listToMask(s.list)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.cpu.%s: %w", s.field, err)
			}
			props = append(props, prop(s.name, mask))
		}
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		props = append(props, prop("IOWeight", cgroups.BlkioToIOWeight(*b.Weight)))
	}
	if r.Pids != nil {
		props = append(props, prop("TasksMax", tasksMax(r.Pids.Limit)))
	}
	unified, err := unifiedProperties(r.Unified)
	if err != nil {
		return nil, err
	}
	// Later properties win in systemd, and unified overrides the typed
	// fields in the cgroupfs manager too.
	return append(props, unified...), nil
}

// unifiedProperties maps the linux.resources.unified keys systemd has a
// property for; the other keys are written by cgroupfs only.
func unifiedProperties(u map[string]string) ([]sddbus.Property, error) {
	names := map[string]string{
		"memory.min": "MemoryMin", "memory.low": "MemoryLow", "memory.high": "MemoryHigh",
		"memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax", "pids.max": "TasksMax",
	}
	var props []sddbus.Property
	for _, k := range slices.Sorted(maps.Keys(u)) {
		v := strings.TrimSpace(u[k])
		field := fmt.Sprintf("linux.resources.unified[%q]", k)
		switch {
		case names[k] != "":
			n, err := parseMax(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			props = append(props, prop(names[k], n))
		case k == "cpu.weight":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", field, v)
			}
			props = append(props, prop("CPUWeight", n))
		case k == "cpuset.cpus" || k == "cpuset.mems":
			mask, err := listToMask(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			name := map[string]string{"cpuset.cpus": "AllowedCPUs", "cpuset.mems": "AllowedMemoryNodes"}[k]
			props = append(props, prop(name, mask))
		}
	}
	return props, nil
}

// cpuQuota gives CPUQuotaPerSecUSec (and the period when one is set).
// systemd keeps the quota as a percentage of one CPU, so a quota that is not
// a whole percent is rounded up: the container's own cgroupfs write is then
// not above its unit's limit.
func cpuQuota(c *configs.CPU) []sddbus.Property {
	var props []sddbus.Property
	if c.Quota != nil && *c.Quota != 0 {
		perSec := infinity
		if *c.Quota > 0 {
			period := uint64(defaultCFSPeriod)
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			perSec = uint64(*c.Quota) * 1000000 / period
			if rem := perSec % 10000; rem != 0 {
				perSec += 10000 - rem
			}
		}
		props = append(props, prop("CPUQuotaPerSecUSec", perSec))
	}
	if c.Period != nil && *c.Period != 0 {
		props = append(props, prop("CPUQuotaPeriodUSec", *c.Period))
	}
	return props
}

// tasksMax maps pids.limit to TasksMax: -1 is infinity, and 0, which
// systemd refuses (its minimum is 1), is sent as 1. The cgroupfs driver then
// writes pids.max 0 as the spec asks; should systemd rewrite it, 1 forbids
// every fork in the container just as 0 does.
func tasksMax(v int64) uint64 {
	switch {
	case v < 0:
		return infinity
	case v == 0:
		return 1
	}
	return uint64(v)
}

// limit maps the spec's "-1 is unlimited" to systemd's (0 is filtered out by
// the callers: it means "unset" for memory).
func limit(v int64) uint64 {
	if v <= 0 {
		return infinity
	}
	return uint64(v)
}

func parseMax(s string) (uint64, error) {
	if s == "max" {
		return infinity, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a number nor \"max\"", s)
	}
	return n, nil
}

// listToMask turns a cpuset list ("0-3,8") into systemd's bitmask: byte i
// bit j is cpu (or node) 8*i+j.
func listToMask(list string) ([]byte, error) {
	var mask []byte
	for _, r := range strings.Split(strings.TrimSpace(list), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%q: %q is not a number or range", list, r)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("%q: %q is not a number or range", list, r)
			}
		}
		for n := a; n <= b; n++ {
			for int(n/8) >= len(mask) {
				mask = append(mask, 0)
			}
			mask[n/8] |= 1 << (n % 8)
		}
	}
	return mask, nil
}
