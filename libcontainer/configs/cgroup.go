package configs

// Cgroup says where the container's cgroup is and what limits it gets.
type Cgroup struct {
	// Path is linux.cgroupsPath as given (cgroupfs semantics: absolute from the
	// hierarchy root, relative under the runtime's own cgroup, empty → <id>).
	// With Systemd (--systemd-cgroup) it is "slice:prefix:name" instead.
	Path string `json:"path,omitempty"`
	// Systemd: systemd creates the cgroup as a transient unit (--systemd-cgroup).
	Systemd   bool       `json:"systemd,omitempty"`
	Resources *Resources `json:"resources,omitempty"`
}

// Resources mirrors the spec's linux.resources. A nil pointer or empty value
// means "not set": the cgroup manager must not touch the file.
type Resources struct {
	Devices        []DeviceRule      `json:"devices,omitempty"`
	Memory         *Memory           `json:"memory,omitempty"`
	CPU            *CPU              `json:"cpu,omitempty"`
	Pids           *Pids             `json:"pids,omitempty"`
	BlockIO        *BlockIO          `json:"blockIO,omitempty"`
	HugepageLimits []HugepageLimit   `json:"hugepageLimits,omitempty"`
	Network        *Network          `json:"network,omitempty"`
	Rdma           map[string]Rdma   `json:"rdma,omitempty"`
	Unified        map[string]string `json:"unified,omitempty"`
}

// DeviceRule is one devices-cgroup rule; Major/Minor -1 means any ("*").
type DeviceRule struct {
	Allow  bool   `json:"allow"`
	Type   rune   `json:"type"` // 'a', 'c', 'b'
	Major  int64  `json:"major"`
	Minor  int64  `json:"minor"`
	Access string `json:"access"` // subset of "rwm"
}

type Memory struct {
	Limit             *int64  `json:"limit,omitempty"`
	Reservation       *int64  `json:"reservation,omitempty"`
	Swap              *int64  `json:"swap,omitempty"`
	Kernel            *int64  `json:"kernel,omitempty"`
	KernelTCP         *int64  `json:"kernelTCP,omitempty"`
	Swappiness        *uint64 `json:"swappiness,omitempty"`
	DisableOOMKiller  *bool   `json:"disableOOMKiller,omitempty"`
	UseHierarchy      *bool   `json:"useHierarchy,omitempty"`
	CheckBeforeUpdate *bool   `json:"checkBeforeUpdate,omitempty"`
}

type CPU struct {
	Shares          *uint64 `json:"shares,omitempty"`
	Quota           *int64  `json:"quota,omitempty"`
	Burst           *uint64 `json:"burst,omitempty"`
	Period          *uint64 `json:"period,omitempty"`
	RealtimeRuntime *int64  `json:"realtimeRuntime,omitempty"`
	RealtimePeriod  *uint64 `json:"realtimePeriod,omitempty"`
	Cpus            string  `json:"cpus,omitempty"`
	Mems            string  `json:"mems,omitempty"`
	Idle            *int64  `json:"idle,omitempty"`
}

type Pids struct {
	Limit int64 `json:"limit"` // < 0: unlimited ("max"); 0 is a limit
}

type WeightDevice struct {
	Major      int64   `json:"major"`
	Minor      int64   `json:"minor"`
	Weight     *uint16 `json:"weight,omitempty"`
	LeafWeight *uint16 `json:"leafWeight,omitempty"`
}

type ThrottleDevice struct {
	Major int64  `json:"major"`
	Minor int64  `json:"minor"`
	Rate  uint64 `json:"rate"`
}

type BlockIO struct {
	Weight                  *uint16          `json:"weight,omitempty"`
	LeafWeight              *uint16          `json:"leafWeight,omitempty"`
	WeightDevice            []WeightDevice   `json:"weightDevice,omitempty"`
	ThrottleReadBpsDevice   []ThrottleDevice `json:"throttleReadBpsDevice,omitempty"`
	ThrottleWriteBpsDevice  []ThrottleDevice `json:"throttleWriteBpsDevice,omitempty"`
	ThrottleReadIOPSDevice  []ThrottleDevice `json:"throttleReadIOPSDevice,omitempty"`
	ThrottleWriteIOPSDevice []ThrottleDevice `json:"throttleWriteIOPSDevice,omitempty"`
}

type HugepageLimit struct {
	Pagesize string `json:"pageSize"`
	Limit    uint64 `json:"limit"`
}

type InterfacePriority struct {
	Name     string `json:"name"`
	Priority uint32 `json:"priority"`
}

type Network struct {
	ClassID    *uint32             `json:"classID,omitempty"`
	Priorities []InterfacePriority `json:"priorities,omitempty"`
}

type Rdma struct {
	HcaHandles *uint32 `json:"hcaHandles,omitempty"`
	HcaObjects *uint32 `json:"hcaObjects,omitempty"`
}
