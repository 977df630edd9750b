package fs1

import (
	"errors"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setCPU writes the v1 cpu controller; the RT period goes before the
// runtime.
//
// The kernel checks each write of the CFS period, quota or burst against the
// values in place and against the parent's quota: a shorter period under the
// current quota can exceed a pod cgroup's own limit (EINVAL), and so can a
// burst above the current quota, although the new values together fit. As
// runc does, such a period or burst write is retried once the quota is in.
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
	write := func(k knob) error {
		return w.Write("linux.resources.cpu."+k.field, k.file, k.value())
	}
	if c.Shares != nil {
		if err := write(knob{true, "shares", "cpu.shares", func() string { return u(*c.Shares) }}); err != nil {
			return err
		}
	}
	var retry []knob
	for _, k := range []knob{
		{c.Period != nil, "period", "cpu.cfs_period_us", func() string { return u(*c.Period) }},
		{c.Burst != nil, "burst", "cpu.cfs_burst_us", func() string { return u(*c.Burst) }},
	} {
		if !k.set {
			continue
		}
		if err := write(k); err != nil {
			if !errors.Is(err, unix.EINVAL) || c.Quota == nil {
				return err
			}
			retry = append(retry, k)
		}
	}
	if c.Quota != nil {
		retry = append([]knob{{true, "quota", "cpu.cfs_quota_us", func() string { return cgfile.Itoa(*c.Quota, "-1") }}}, retry...)
	}
	for _, k := range append(retry, []knob{
		{c.RealtimePeriod != nil, "realtimePeriod", "cpu.rt_period_us", func() string { return u(*c.RealtimePeriod) }},
		{c.RealtimeRuntime != nil, "realtimeRuntime", "cpu.rt_runtime_us", func() string { return i(*c.RealtimeRuntime) }},
		{c.Idle != nil, "idle", "cpu.idle", func() string { return i(*c.Idle) }},
	}...) {
		if !k.set {
			continue
		}
		if err := write(k); err != nil {
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
