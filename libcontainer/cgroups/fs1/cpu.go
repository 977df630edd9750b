package fs1

import (
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setCPU writes the v1 cpu controller. The CFS period goes before the quota
// and the quota before the burst, because the kernel checks burst <= quota;
// likewise the RT period goes before the runtime.
func setCPU(w cgfile.Writer, c *configs.CPU) error {
	if c == nil {
		return nil
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	type knob struct {
		set         bool
		field, file string
		value       func() string
	}
	for _, k := range []knob{
		{c.Shares != nil, "shares", "cpu.shares", func() string { return u(*c.Shares) }},
		{c.Period != nil, "period", "cpu.cfs_period_us", func() string { return u(*c.Period) }},
		{c.Quota != nil, "quota", "cpu.cfs_quota_us", func() string { return cgfile.Itoa(*c.Quota, "-1") }},
		{c.Burst != nil, "burst", "cpu.cfs_burst_us", func() string { return u(*c.Burst) }},
		{c.RealtimePeriod != nil, "realtimePeriod", "cpu.rt_period_us", func() string { return u(*c.RealtimePeriod) }},
		{c.RealtimeRuntime != nil, "realtimeRuntime", "cpu.rt_runtime_us", func() string { return i(*c.RealtimeRuntime) }},
		{c.Idle != nil, "idle", "cpu.idle", func() string { return i(*c.Idle) }},
	} {
		if !k.set {
			continue
		}
		if err := w.Write("linux.resources.cpu."+k.field, k.file, k.value()); err != nil {
			return err
		}
	}
	return nil
}

// statCPU reads CFS throttling; usage comes from cpuacct.
func statCPU(dir string, s *cgroups.Stats) error {
	kv, err := cgfile.ReadKeyed(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Throttling = cgroups.Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_time"],
	}
	return nil
}
