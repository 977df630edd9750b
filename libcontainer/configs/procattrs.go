package configs

// ProcAttrs are the kernel attributes of the user process beyond credentials:
// scheduling, I/O priority, personality, CPU affinity and NUMA memory policy.
// Each is nil when the spec leaves it alone; the kernel numbers are resolved by
// specconv, so the init only passes them on.
type ProcAttrs struct {
	Scheduler    *Scheduler    `json:"scheduler,omitempty"`
	IOPriority   *IOPriority   `json:"ioPriority,omitempty"`
	Personality  *Personality  `json:"personality,omitempty"`
	MemoryPolicy *MemoryPolicy `json:"memoryPolicy,omitempty"`
	// ExecCPUAffinity is process.execCPUAffinity as the spec gives it: for
	// the processes `exec` starts later, never for the container's init.
	ExecCPUAffinity *CPUAffinity `json:"execCPUAffinity,omitempty"`
	// CPUAffinity is the affinity this very process gets; `exec` fills it
	// from ExecCPUAffinity (its own or the container's).
	CPUAffinity *CPUAffinity `json:"cpuAffinity,omitempty"`
}

// Scheduler holds the arguments of sched_setattr(2).
type Scheduler struct {
	Policy   uint32 `json:"policy"` // SCHED_* number
	Name     string `json:"name"`   // "SCHED_FIFO", for error messages
	Flags    uint64 `json:"flags,omitempty"`
	Nice     int32  `json:"nice,omitempty"`
	Priority uint32 `json:"priority,omitempty"`
	Runtime  uint64 `json:"runtime,omitempty"`
	Deadline uint64 `json:"deadline,omitempty"`
	Period   uint64 `json:"period,omitempty"`
}

// IOPriority is the ioprio_set(2) value: class << 13 | level.
type IOPriority struct {
	Class    int `json:"class"` // IOPRIO_CLASS_* number
	Priority int `json:"priority"`
}

// Value is the packed ioprio as the kernel takes it.
func (p *IOPriority) Value() int { return p.Class<<ioprioClassShift | p.Priority }

const ioprioClassShift = 13

// Personality is the persona personality(2) gets (PER_LINUX, PER_LINUX32).
type Personality struct {
	Domain uint32 `json:"domain"`
	Name   string `json:"name"` // "LINUX32", for error messages
}

// MemoryPolicy holds the arguments of set_mempolicy(2).
type MemoryPolicy struct {
	Mode  int     `json:"mode"` // MPOL_* number with the MPOL_F_* flags or-ed in
	Name  string  `json:"name"` // "MPOL_BIND", for error messages
	Nodes []Range `json:"nodes,omitempty"`
}

// CPUAffinity is the CPU set of a process before (Initial) and after (Final)
// it enters the container's cgroup; a nil list leaves the affinity alone.
type CPUAffinity struct {
	Initial []Range `json:"initial,omitempty"`
	Final   []Range `json:"final,omitempty"`
}

// Range is an inclusive range of CPU or NUMA node numbers, one item of a
// "0-3,7" list.
type Range struct {
	First uint32 `json:"first"`
	Last  uint32 `json:"last"`
}
