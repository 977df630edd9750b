package libcontainer

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

var (
	errNotRunning = errors.New("container not running")
	errNotPaused  = errors.New("container not paused")
)

// requireCgroup returns the container's cgroup manager or an error saying
// there is none (a container created without cgroup paths).
func (c *Container) requireCgroup() (cgroups.Manager, error) {
	if len(c.state.CgroupPaths) == 0 {
		return nil, fmt.Errorf("container %s has no cgroup", c.ID)
	}
	return c.state.loadCgroup()
}

// Pause freezes every process of a created or running container, as runc
// does (a created init is frozen on exec.fifo and stays so after start).
func (c *Container) Pause() error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if st := c.Status(); st != Running && st != Created {
		return errNotRunning
	}
	m, err := c.requireCgroup()
	if err != nil {
		return err
	}
	return m.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if c.Status() != Paused {
		return errNotPaused
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
		return nil, errNotRunning
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
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if c.Status() == Stopped {
		return errNotRunning
	}
	m, err := c.requireCgroup()
	if err != nil {
		return err
	}
	merged, apply := mergeResources(c.state.Config.Cgroups.Resources, r)
	if err := m.Set(apply); err != nil {
		return err
	}
	c.state.Config.Cgroups.Resources = merged
	return saveState(c.dir, c.state, true)
}

// mergeResources returns cur with upd laid over it, and what has to be
// written to the cgroup for that. Memory limit and swap go together, because
// swap is memory+swap and is checked (and on v2 converted) against the limit.
func mergeResources(cur, upd *configs.Resources) (merged, apply *configs.Resources) {
	merged = &configs.Resources{}
	if cur != nil {
		merged = cloneResources(cur)
	}
	apply = &configs.Resources{}
	if upd == nil {
		return merged, apply
	}
	if u := upd.Memory; u != nil {
		if merged.Memory == nil {
			merged.Memory = &configs.Memory{}
		}
		mm := merged.Memory
		a := &configs.Memory{}
		for _, f := range []struct{ dst, src, out **int64 }{
			{&mm.Limit, &u.Limit, &a.Limit},
			{&mm.Reservation, &u.Reservation, &a.Reservation},
			{&mm.Swap, &u.Swap, &a.Swap},
			{&mm.Kernel, &u.Kernel, &a.Kernel},
			{&mm.KernelTCP, &u.KernelTCP, &a.KernelTCP},
		} {
			overlay(f.dst, *f.src, f.out)
		}
		overlay(&mm.Swappiness, u.Swappiness, &a.Swappiness)
		overlay(&mm.DisableOOMKiller, u.DisableOOMKiller, &a.DisableOOMKiller)
		overlay(&mm.UseHierarchy, u.UseHierarchy, &a.UseHierarchy)
		overlay(&mm.CheckBeforeUpdate, u.CheckBeforeUpdate, &a.CheckBeforeUpdate)
		if u.Limit != nil || u.Swap != nil {
			a.Limit, a.Swap, a.CheckBeforeUpdate = mm.Limit, mm.Swap, mm.CheckBeforeUpdate
		}
		apply.Memory = a
	}
	if u := upd.CPU; u != nil {
		if merged.CPU == nil {
			merged.CPU = &configs.CPU{}
		}
		mc := merged.CPU
		overlay(&mc.Shares, u.Shares, nil)
		overlay(&mc.Quota, u.Quota, nil)
		overlay(&mc.Burst, u.Burst, nil)
		overlay(&mc.Period, u.Period, nil)
		overlay(&mc.RealtimeRuntime, u.RealtimeRuntime, nil)
		overlay(&mc.RealtimePeriod, u.RealtimePeriod, nil)
		overlay(&mc.Idle, u.Idle, nil)
		if u.Cpus != "" {
			mc.Cpus = u.Cpus
		}
		if u.Mems != "" {
			mc.Mems = u.Mems
		}
		apply.CPU = u
	}
	if upd.Pids != nil {
		p := *upd.Pids
		merged.Pids, apply.Pids = &p, &p
	}
	if u := upd.BlockIO; u != nil {
		if merged.BlockIO == nil {
			merged.BlockIO = &configs.BlockIO{}
		}
		mb := merged.BlockIO
		overlay(&mb.Weight, u.Weight, nil)
		overlay(&mb.LeafWeight, u.LeafWeight, nil)
		for _, l := range []struct{ dst, src *[]configs.ThrottleDevice }{
			{&mb.ThrottleReadBpsDevice, &u.ThrottleReadBpsDevice},
			{&mb.ThrottleWriteBpsDevice, &u.ThrottleWriteBpsDevice},
			{&mb.ThrottleReadIOPSDevice, &u.ThrottleReadIOPSDevice},
			{&mb.ThrottleWriteIOPSDevice, &u.ThrottleWriteIOPSDevice},
		} {
			if len(*l.src) > 0 {
				*l.dst = slices.Clone(*l.src)
			}
		}
		if len(u.WeightDevice) > 0 {
			mb.WeightDevice = slices.Clone(u.WeightDevice)
		}
		apply.BlockIO = u
	}
	for _, h := range upd.HugepageLimits {
		i := slices.IndexFunc(merged.HugepageLimits, func(x configs.HugepageLimit) bool { return x.Pagesize == h.Pagesize })
		if i < 0 {
			merged.HugepageLimits = append(merged.HugepageLimits, h)
		} else {
			merged.HugepageLimits[i] = h
		}
	}
	apply.HugepageLimits = upd.HugepageLimits
	if u := upd.Network; u != nil {
		if merged.Network == nil {
			merged.Network = &configs.Network{}
		}
		overlay(&merged.Network.ClassID, u.ClassID, nil)
		if len(u.Priorities) > 0 {
			merged.Network.Priorities = slices.Clone(u.Priorities)
		}
		apply.Network = u
	}
	if len(upd.Rdma) > 0 {
		if merged.Rdma == nil {
			merged.Rdma = map[string]configs.Rdma{}
		}
		maps.Copy(merged.Rdma, upd.Rdma)
		apply.Rdma = upd.Rdma
	}
	if len(upd.Unified) > 0 {
		if merged.Unified == nil {
			merged.Unified = map[string]string{}
		}
		maps.Copy(merged.Unified, upd.Unified)
		apply.Unified = upd.Unified
	}
	return merged, apply
}

// overlay sets *dst (and *out, when given) to src if src is set.
func overlay[T any](dst **T, src *T, out **T) {
	if src == nil {
		return
	}
	v := *src
	*dst = &v
	if out != nil {
		*out = &v
	}
}

// cloneResources deep-copies the parts mergeResources changes in place, so
// that the caller's config is not modified before the cgroup write succeeds.
func cloneResources(r *configs.Resources) *configs.Resources {
	c := *r
	if r.Memory != nil {
		m := *r.Memory
		c.Memory = &m
	}
	if r.CPU != nil {
		cp := *r.CPU
		c.CPU = &cp
	}
	if r.BlockIO != nil {
		b := *r.BlockIO
		c.BlockIO = &b
	}
	if r.Network != nil {
		n := *r.Network
		c.Network = &n
	}
	c.HugepageLimits = slices.Clone(r.HugepageLimits)
	c.Rdma = maps.Clone(r.Rdma)
	c.Unified = maps.Clone(r.Unified)
	return &c
}
