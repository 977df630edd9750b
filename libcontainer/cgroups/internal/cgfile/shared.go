package cgfile

import (
	"fmt"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// SetCpuset writes cpuset.cpus and cpuset.mems, the same files on both
// versions; an empty value is left alone.
func SetCpuset(w Writer, c *configs.CPU) error {
	if c == nil {
		return nil
	}
	if c.Cpus != "" {
		if err := w.Write("linux.resources.cpu.cpus", "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := w.Write("linux.resources.cpu.mems", "cpuset.mems", c.Mems); err != nil {
			return err
		}
	}
	return nil
}

// CheckUsage implements memory.checkBeforeUpdate: refuse a limit below what
// the container already uses (usageFile: memory.usage_in_bytes on v1,
// memory.current on v2) instead of letting the kernel OOM-kill it.
func CheckUsage(w Writer, usageFile string, m *configs.Memory) error {
	if m.CheckBeforeUpdate == nil || !*m.CheckBeforeUpdate || *m.Limit < 0 || w.Dir == "" {
		return nil
	}
	s, err := ReadFile(w.Dir, usageFile)
	if err != nil {
		return fmt.Errorf("linux.resources.memory.checkBeforeUpdate: %w", err)
	}
	usage, err := ParseUintOrMax(s)
	if err != nil {
		return fmt.Errorf("linux.resources.memory.checkBeforeUpdate: %w", err)
	}
	if usage > *m.Limit {
		return fmt.Errorf("linux.resources.memory.limit: %d is below current usage %d (checkBeforeUpdate)", *m.Limit, usage)
	}
	return nil
}
