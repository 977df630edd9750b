package fs2

import (
	"errors"
	"fmt"
	"math"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setMemory writes memory.max, memory.swap.max and memory.low. kernel and
// kernelTCP are ignored: v2 accounts kernel memory inside memory.max and has
// no separate limit (the spec deprecates both; runc ignores them too).
func setMemory(w cgfile.Writer, m *configs.Memory) error {
	if m == nil {
		return nil
	}
	const f = "linux.resources.memory."
	if m.Swappiness != nil {
		return errors.New(f + "swappiness: not supported on cgroup v2")
	}
	if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
		return errors.New(f + "disableOOMKiller: not supported on cgroup v2")
	}
	if m.UseHierarchy != nil && !*m.UseHierarchy {
		return errors.New(f + "useHierarchy: cgroup v2 is always hierarchical")
	}
	swap, setSwap, err := cgroups.SwapMax(m.Swap, m.Limit)
	if err != nil {
		return fmt.Errorf(f+"swap: %w", err)
	}
	if setSwap {
		if err := w.Need(f + "swap"); err != nil {
			return err
		}
		switch {
		case cgfile.Exists(w.Dir, "memory.swap.max"):
			if err := w.Write(f+"swap", "memory.swap.max", swap); err != nil {
				return err
			}
		case swap != "max":
			return errors.New(f + "swap: swap accounting is not enabled (no memory.swap.max)")
		}
	}
	if m.Limit != nil {
		if err := cgfile.CheckUsage(w, "memory.current", m); err != nil {
			return err
		}
		if err := w.Write(f+"limit", "memory.max", cgfile.Itoa(*m.Limit, "max")); err != nil {
			return err
		}
	}
	if m.Reservation != nil {
		if err := w.Write(f+"reservation", "memory.low", cgfile.Itoa(*m.Reservation, "max")); err != nil {
			return err
		}
	}
	return nil
}

// statMemory reads memory.stat and the memory and swap counters. Swap is
// reported as memory+swap, as v1's memsw, so that a client computes the same
// thing on both versions. memory.peak (5.19+) is the max usage; the "max"
// count of memory.events (times the limit was hit) is the failcnt.
func statMemory(dir string, s *cgroups.Stats) error {
	if !cgfile.Exists(dir, "memory.current") {
		return nil
	}
	raw, err := cgfile.ReadKeyed(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw, s.Memory.Cache = raw, raw["file"]
	u := &s.Memory.Usage
	if u.Usage, err = cgfile.ReadUint(dir, "memory.current"); err != nil {
		return err
	}
	if u.Limit, err = cgfile.ReadUint(dir, "memory.max"); err != nil {
		return err
	}
	if cgfile.Exists(dir, "memory.peak") {
		if u.Max, err = cgfile.ReadUint(dir, "memory.peak"); err != nil {
			return err
		}
	}
	ev, err := cgfile.ReadKeyed(dir, "memory.events")
	if err != nil {
		return err
	}
	u.Failcnt = ev["max"]
	if !cgfile.Exists(dir, "memory.swap.current") {
		return nil
	}
	sw := &s.Memory.Swap
	cur, err := cgfile.ReadUint(dir, "memory.swap.current")
	if err != nil {
		return err
	}
	limit, err := cgfile.ReadUint(dir, "memory.swap.max")
	if err != nil {
		return err
	}
	sw.Usage = cur + u.Usage
	sw.Limit = addSat(limit, u.Limit)
	if cgfile.Exists(dir, "memory.swap.peak") {
		peak, err := cgfile.ReadUint(dir, "memory.swap.peak")
		if err != nil {
			return err
		}
		sw.Max = addSat(peak, u.Max)
	}
	if cgfile.Exists(dir, "memory.swap.events") {
		sev, err := cgfile.ReadKeyed(dir, "memory.swap.events")
		if err != nil {
			return err
		}
		sw.Failcnt = sev["max"]
	}
	return nil
}

// addSat adds without wrapping: "max" (MaxUint64) plus anything stays max.
func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
