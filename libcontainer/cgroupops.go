package libcontainer

import (
	"fmt"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// requireCgroup returns the container's cgroup manager or an error saying
// there is none (a container created without cgroup paths).
func (c *Container) requireCgroup() (cgroups.Manager, error) {
	if len(c.state.CgroupPaths) == 0 {
		return nil, fmt.Errorf("container %s has no cgroup", c.ID)
	}
	return loadCgroup(c.state)
}

// Pause freezes every process of a created or running container, as runc
// does (a created init is frozen on exec.fifo and stays so after start).
func (c *Container) Pause() error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if st != Running && st != Created {
		return ErrNotRunning
	}
	m, err := c.requireCgroup()
	if err != nil {
		return err
	}
	return m.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if st != Paused {
		return ErrNotPaused
	}
	m, err := c.requireCgroup()
	if err != nil {
		return err
	}
	return m.Thaw()
}

// Processes lists the host pids of every process in the container's cgroup.
func (c *Container) Processes() ([]int, error) {
	m, err := c.requireCgroup()
	if err != nil {
		return nil, err
	}
	return m.GetPids()
}

// Stats samples the container's cgroup counters.
func (c *Container) Stats() (*cgroups.Stats, error) {
	if c.Status() == Stopped {
		return nil, ErrNotRunning
	}
	m, err := c.requireCgroup()
	if err != nil {
		return nil, err
	}
	return m.Stats()
}

// NotifyOOM reports the OOM kills in the container's cgroup until stop is
// closed or the cgroup goes away.
func (c *Container) NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error) {
	m, err := c.requireCgroup()
	if err != nil {
		return nil, err
	}
	return m.NotifyOOM(stop)
}

// Update applies r on top of the container's limits and saves the result in
// state.json, under the container's lock. Each field set in r replaces the
// saved one; the others keep their value (update --cpu-share leaves the
// memory limit alone). Only the changed parts are written to the cgroup.
func (c *Container) Update(r *configs.Resources) error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if st == Stopped {
		return ErrNotRunning
	}
	m, err := c.requireCgroup()
	if err != nil {
		return err
	}
	merged, apply := c.state.Config.Cgroups.Resources.Merge(r)
	if err := m.Set(apply); err != nil {
		return err
	}
	c.trace.Mark("cgroup-limits")
	c.state.Config.Cgroups.Resources = merged
	raw, err := state.SaveConfig(c.dir, c.state.Config)
	if err != nil {
		return err
	}
	c.configRaw = raw
	return state.Save(c.dir, c.state)
}
