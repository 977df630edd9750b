package fs1

import (
	"errors"
	"fmt"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

const freezeTimeout = 10 * time.Second

// Freeze writes FROZEN and waits: the state reads FREEZING until every task
// has stopped, and callers (pause, checkpoint) rely on it being frozen.
func (m *Manager) Freeze() error { return m.setFreezer("FROZEN") }

// Thaw writes THAWED and waits for it.
func (m *Manager) Thaw() error { return m.setFreezer("THAWED") }

func (m *Manager) setFreezer(state string) error {
	dir := m.Path("freezer")
	if dir == "" {
		return errors.New("freezer controller not available")
	}
	var last string
	err := cgfile.WaitFor(freezeTimeout, func() (bool, error) {
		// Rewriting is what makes the kernel retry tasks that were
		// busy (e.g. in vfork) during the previous attempt.
		if err := cgfile.WriteFile(dir, "freezer.state", state); err != nil {
			return false, err
		}
		s, err := cgfile.ReadFile(dir, "freezer.state")
		last = s
		return s == state, err
	})
	if err != nil {
		return fmt.Errorf("set %s/freezer.state to %s (now %s): %w", dir, state, last, err)
	}
	return nil
}

// IsFrozen reports whether the container's freezer cgroup is FROZEN.
func (m *Manager) IsFrozen() (bool, error) {
	dir := m.Path("freezer")
	if dir == "" {
		return false, errors.New("freezer controller not available")
	}
	s, err := cgfile.ReadFile(dir, "freezer.state")
	if err != nil {
		return false, err
	}
	return s == "FROZEN", nil
}
