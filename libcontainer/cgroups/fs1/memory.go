package fs1

import (
	"fmt"
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

const memswFile = "memory.memsw.limit_in_bytes"

// setMemory writes the v1 memory files. memory.kernel is ignored: kernel
// memory limits are deprecated in the spec, and the kernel (since 5.4 and
// unconditionally since 6.x) either ignores or refuses memory.kmem.limit_in_bytes,
// so writing it would only make containers fail; runc ≥ 1.1 ignores it too.
// kernelTCP still works on v1 and is written.
func setMemory(w cgfile.Writer, m *configs.Memory) error {
	if m == nil {
		return nil
	}
	if err := setMemoryAndSwap(w, m); err != nil {
		return err
	}
	if m.Reservation != nil {
		if err := w.Write("linux.resources.memory.reservation", "memory.soft_limit_in_bytes", cgfile.Itoa(*m.Reservation, "-1")); err != nil {
			return err
		}
	}
	if m.KernelTCP != nil {
		if err := w.Write("linux.resources.memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", cgfile.Itoa(*m.KernelTCP, "-1")); err != nil {
			return err
		}
	}
	if m.Swappiness != nil {
		if *m.Swappiness > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is not in 0..100", *m.Swappiness)
		}
		if err := w.Write("linux.resources.memory.swappiness", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil {
		if err := w.Write("linux.resources.memory.disableOOMKiller", "memory.oom_control", b01(*m.DisableOOMKiller)); err != nil {
			return err
		}
	}
	if m.UseHierarchy != nil {
		if err := w.Write("linux.resources.memory.useHierarchy", "memory.use_hierarchy", b01(*m.UseHierarchy)); err != nil {
			return err
		}
	}
	return nil
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// setMemoryAndSwap writes memory.limit_in_bytes and memsw. The spec's swap
// is v1's memory+swap, so it is written as is. The kernel keeps
// limit <= memsw at every moment, so when memsw grows it goes first and when
// it shrinks the limit goes first.
func setMemoryAndSwap(w cgfile.Writer, m *configs.Memory) error {
	const limitField, swapField = "linux.resources.memory.limit", "linux.resources.memory.swap"
	var memsw *int64
	switch {
	case m.Swap != nil && *m.Swap != 0:
		// 0 is "unset" (Docker sends it), as in runc and in fs2.
		memsw = m.Swap
	case m.Limit != nil && *m.Limit < 0 && cgfile.Exists(w.Dir, memswFile):
		// An unlimited memory limit with an unset swap lifts both, or
		// the old memsw would still cap the container.
		unlimited := int64(-1)
		memsw = &unlimited
	}
	if memsw != nil && *memsw >= 0 && m.Limit != nil && *m.Limit >= 0 && *memsw < *m.Limit {
		return fmt.Errorf("%s: %d is below linux.resources.memory.limit %d (swap is memory+swap)", swapField, *memsw, *m.Limit)
	}
	if err := w.Need(limitField); m.Limit != nil && err != nil {
		return err
	}
	if memsw != nil {
		if err := w.Need(swapField); err != nil {
			return err
		}
		if !cgfile.Exists(w.Dir, memswFile) {
			if *memsw < 0 {
				memsw = nil // nothing to lift without swap accounting
			} else {
				return fmt.Errorf("%s: swap accounting is not enabled (no %s)", swapField, memswFile)
			}
		}
	}
	writeLimit := func() error {
		if m.Limit == nil {
			return nil
		}
		if err := cgfile.CheckUsage(w, "memory.usage_in_bytes", m); err != nil {
			return err
		}
		return w.Write(limitField, "memory.limit_in_bytes", cgfile.Itoa(*m.Limit, "-1"))
	}
	writeSwap := func() error {
		if memsw == nil {
			return nil
		}
		return w.Write(swapField, memswFile, cgfile.Itoa(*memsw, "-1"))
	}
	first, second := writeLimit, writeSwap
	if memsw != nil && m.Limit != nil {
		cur, err := cgfile.ReadFile(w.Dir, memswFile)
		if err != nil {
			return fmt.Errorf("%s: %w", swapField, err)
		}
		curV, err := cgfile.ParseUintOrMax(cur)
		if err != nil {
			return fmt.Errorf("%s: %w", swapField, err)
		}
		if *memsw < 0 || (curV >= 0 && *memsw > curV) {
			first, second = writeSwap, writeLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// statMemory reads memory.stat and the four page counters (memory, memsw,
// kmem, kmem.tcp); one whose files are missing (no swap accounting) stays zero.
func statMemory(dir string, s *cgroups.Stats) error {
	raw, err := cgfile.ReadKeyed(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw, s.Memory.Cache = raw, raw["cache"]
	for _, c := range []struct {
		prefix string
		dst    *cgroups.MemoryEntry
	}{
		{"memory.", &s.Memory.Usage},
		{"memory.memsw.", &s.Memory.Swap},
		{"memory.kmem.", &s.Memory.Kernel},
		{"memory.kmem.tcp.", &s.Memory.KernelTCP},
	} {
		if !cgfile.Exists(dir, c.prefix+"usage_in_bytes") {
			continue
		}
		for _, f := range []struct {
			file string
			dst  *uint64
		}{
			{"usage_in_bytes", &c.dst.Usage},
			{"max_usage_in_bytes", &c.dst.Max},
			{"failcnt", &c.dst.Failcnt},
			{"limit_in_bytes", &c.dst.Limit},
		} {
			if *f.dst, err = cgfile.ReadUint(dir, c.prefix+f.file); err != nil {
				return err
			}
		}
	}
	return nil
}
