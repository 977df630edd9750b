package configs

import (
	"maps"
	"slices"
)

// Merge returns cur (nil: nothing saved) with upd laid over it, as `update`
// saves it, and what has to be written to the cgroup for that. Each field
// set in upd replaces the saved one, the others keep their value (update
// --cpu-share leaves the memory limit alone); cur is not modified. Memory
// limit and swap go together, because swap is memory+swap and is checked
// (and on v2 converted) against the limit. Devices are not updated, as with
// runc. TestMergeHandlesEveryField fails for a field added to Resources and
// not handled here.
func (cur *Resources) Merge(upd *Resources) (merged, apply *Resources) {
	merged = &Resources{}
	if cur != nil {
		merged = cur.clone()
	}
	apply = &Resources{}
	if upd == nil {
		return merged, apply
	}
	if u := upd.Memory; u != nil {
		if merged.Memory == nil {
			merged.Memory = &Memory{}
		}
		mm := merged.Memory
		a := &Memory{}
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
			merged.CPU = &CPU{}
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
			merged.BlockIO = &BlockIO{}
		}
		mb := merged.BlockIO
		overlay(&mb.Weight, u.Weight, nil)
		overlay(&mb.LeafWeight, u.LeafWeight, nil)
		for _, l := range []struct{ dst, src *[]ThrottleDevice }{
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
		i := slices.IndexFunc(merged.HugepageLimits, func(x HugepageLimit) bool { return x.Pagesize == h.Pagesize })
		if i < 0 {
			merged.HugepageLimits = append(merged.HugepageLimits, h)
		} else {
			merged.HugepageLimits[i] = h
		}
	}
	apply.HugepageLimits = upd.HugepageLimits
	if u := upd.Network; u != nil {
		if merged.Network == nil {
			merged.Network = &Network{}
		}
		overlay(&merged.Network.ClassID, u.ClassID, nil)
		if len(u.Priorities) > 0 {
			merged.Network.Priorities = slices.Clone(u.Priorities)
		}
		apply.Network = u
	}
	if len(upd.Rdma) > 0 {
		if merged.Rdma == nil {
			merged.Rdma = map[string]Rdma{}
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

// clone deep-copies the parts Merge changes in place, so that the caller's
// config is not modified before the cgroup write succeeds.
func (cur *Resources) clone() *Resources {
	c := *cur
	if cur.Memory != nil {
		m := *cur.Memory
		c.Memory = &m
	}
	if cur.CPU != nil {
		cp := *cur.CPU
		c.CPU = &cp
	}
	if cur.BlockIO != nil {
		b := *cur.BlockIO
		c.BlockIO = &b
	}
	if cur.Network != nil {
		n := *cur.Network
		c.Network = &n
	}
	c.HugepageLimits = slices.Clone(cur.HugepageLimits)
	c.Rdma = maps.Clone(cur.Rdma)
	c.Unified = maps.Clone(cur.Unified)
	return &c
}
