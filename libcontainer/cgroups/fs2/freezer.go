package fs2

import (
	"fmt"
	"strings"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

const freezeTimeout = 10 * time.Second

// Freeze writes cgroup.freeze and waits for cgroup.events to say "frozen 1":
// the write only requests the freeze, tasks stop asynchronously.
func (m *Manager) Freeze() error { return m.setFreeze(true) }

// Thaw clears cgroup.freeze and waits until the cgroup is no longer frozen.
func (m *Manager) Thaw() error { return m.setFreeze(false) }

func (m *Manager) setFreeze(freeze bool) error {
	v := "0"
	if freeze {
		v = "1"
	}
	if err := cgfile.WriteFile(m.path, "cgroup.freeze", v); err != nil {
		return err
	}
	err := cgfile.WaitFor(freezeTimeout, func() (bool, error) {
		ev, err := cgfile.ReadFile(m.path, "cgroup.events")
		if err != nil {
			return false, err
		}
		for _, l := range strings.Split(ev, "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "frozen" {
				return f[1] == v, nil
			}
		}
		return false, fmt.Errorf("no frozen key in %s/cgroup.events", m.path)
	})
	if err != nil {
		return fmt.Errorf("set %s/cgroup.freeze to %s: %w", m.path, v, err)
	}
	return nil
}

// IsFrozen reports whether the cgroup is asked to be frozen (cgroup.freeze),
// which is what pause set; runc reads the same file.
func (m *Manager) IsFrozen() (bool, error) {
	s, err := cgfile.ReadFile(m.path, "cgroup.freeze")
	if err != nil {
		return false, err
	}
	return s == "1", nil
}
