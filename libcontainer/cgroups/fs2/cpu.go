package fs2

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setCPU writes cpu.weight, cpu.max.burst, cpu.max and cpu.idle.
func setCPU(w cgfile.Writer, c *configs.CPU) error {
	if c == nil {
		return nil
	}
	const f = "linux.resources.cpu."
	if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
		return errors.New(f + "realtimeRuntime: realtime scheduling limits are not supported on cgroup v2")
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := w.Write(f+"shares", "cpu.weight", strconv.FormatUint(cgroups.SharesToWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	// The kernel keeps cpu.max.burst at most the quota: a burst above the
	// current quota is refused (EINVAL) until the new quota is in, and a
	// quota below the current burst until the burst is lowered. As runc does,
	// the burst goes first and, refused, again after cpu.max.
	burstLater := false
	if c.Burst != nil {
		err := w.Write(f+"burst", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10))
		if err != nil && (!errors.Is(err, unix.EINVAL) || c.Quota == nil && c.Period == nil) {
			return err
		}
		burstLater = err != nil
	}
	if c.Quota != nil || c.Period != nil {
		field := f + "quota"
		if c.Quota == nil {
			field = f + "period"
		}
		if err := w.Need(field); err != nil {
			return err
		}
		// cpu.max holds both values; the one not given keeps its
		// current setting.
		cur, err := cgfile.ReadFile(w.Dir, "cpu.max")
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		line, err := CPUMax(cur, c.Quota, c.Period)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		if err := w.Write(field, "cpu.max", line); err != nil {
			return err
		}
	}
	if burstLater {
		if err := w.Write(f+"burst", "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := w.Write(f+"idle", "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

// CPUMax builds the cpu.max line "quota period" from the current content
// and the fields that are set; a quota <= 0 is "max" (unlimited).
func CPUMax(cur string, quota *int64, period *uint64) (string, error) {
	f := strings.Fields(cur)
	if len(f) != 2 {
		return "", fmt.Errorf("unexpected cpu.max content %q", cur)
	}
	q, p := f[0], f[1]
	if quota != nil {
		q = cgfile.Itoa(*quota, "max")
		if *quota == 0 {
			q = "max"
		}
	}
	if period != nil && *period != 0 {
		p = strconv.FormatUint(*period, 10)
	}
	return q + " " + p, nil
}

// statCPU reads cpu.stat, whose times are in microseconds.
func statCPU(dir string, s *cgroups.Stats) error {
	kv, err := cgfile.ReadKeyed(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Usage.Total = kv["usage_usec"] * 1000
	s.CPU.Usage.User = kv["user_usec"] * 1000
	s.CPU.Usage.Kernel = kv["system_usec"] * 1000
	s.CPU.Throttling = cgroups.Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_usec"] * 1000,
	}
	return nil
}
