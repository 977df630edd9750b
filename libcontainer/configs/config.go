// Package configs holds the normalized container configuration that specconv
// produces from an OCI bundle and that the init process receives over its socket.
package configs

// Config is everything the runtime needs to build one container. It is JSON-safe:
// the parent sends it to `ocirun init` as one protocol message.
type Config struct {
	OCIVersion string `json:"ociVersion"`
	// Rootfs is the absolute host path of the container's root filesystem.
	Rootfs     string `json:"rootfs"`
	Readonly   bool   `json:"readonly,omitempty"`
	NoPivot    bool   `json:"noPivot,omitempty"`
	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	Namespaces  []Namespace           `json:"namespaces,omitempty"`
	UIDMappings []IDMap               `json:"uidMappings,omitempty"`
	GIDMappings []IDMap               `json:"gidMappings,omitempty"`
	TimeOffsets map[string]TimeOffset `json:"timeOffsets,omitempty"` // "monotonic", "boottime"

	Mounts []Mount `json:"mounts,omitempty"`
	// Devices are created in /dev in addition to rootfs.DefaultDevices.
	Devices       []Device `json:"devices,omitempty"`
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// RootPropagation is the MS_* propagation flag for "/" (0: rslave, as runc).
	RootPropagation int               `json:"rootPropagation,omitempty"`
	Sysctl          map[string]string `json:"sysctl,omitempty"`
	MountLabel      string            `json:"mountLabel,omitempty"`

	Process Process `json:"process"`
	Cgroups Cgroup  `json:"cgroups"`
	Hooks   Hooks   `json:"hooks,omitempty"`

	Annotations map[string]string `json:"annotations,omitempty"`
	// NotifySocket is the caller's NOTIFY_SOCKET that `start` relays READY=1 to.
	NotifySocket string `json:"notifySocket,omitempty"`
}

// Namespace types, as in the runtime-spec.
const (
	NEWPID    = "pid"
	NEWNET    = "network"
	NEWIPC    = "ipc"
	NEWUTS    = "uts"
	NEWNS     = "mount"
	NEWCGROUP = "cgroup"
	NEWUSER   = "user"
	NEWTIME   = "time"
)

// Namespace is a namespace to create (Path empty) or to join (Path set).
type Namespace struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
}

// HasNamespace reports whether the config asks for a namespace of type t, new or joined.
func (c *Config) HasNamespace(t string) bool {
	_, ok := c.Namespace(t)
	return ok
}

// Namespace returns the entry for type t.
func (c *Config) Namespace(t string) (Namespace, bool) {
	for _, ns := range c.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return Namespace{}, false
}

// IDMap is one line of /proc/<pid>/uid_map or gid_map.
type IDMap struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// TimeOffset is one line of /proc/<pid>/timens_offsets.
type TimeOffset struct {
	Secs     int64  `json:"secs"`
	Nanosecs uint32 `json:"nanosecs"`
}

// Mount is one entry of the spec's mounts, with options already split into
// mount(2) flags, propagation flags, recursive attributes and fs data.
type Mount struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Device is the filesystem type ("bind" for bind mounts).
	Device string `json:"device"`
	// Flags are MS_* flags to set; ClearedFlags were explicitly negated (e.g. "rw", "dev").
	Flags        int    `json:"flags,omitempty"`
	ClearedFlags int    `json:"clearedFlags,omitempty"`
	Data         string `json:"data,omitempty"`
	// PropagationFlags are applied one by one after the mount (MS_PRIVATE|MS_REC ...).
	PropagationFlags []int `json:"propagationFlags,omitempty"`
	// RecAttrSet/RecAttrClr are MOUNT_ATTR_* bits applied recursively with mount_setattr.
	RecAttrSet uint64 `json:"recAttrSet,omitempty"`
	RecAttrClr uint64 `json:"recAttrClr,omitempty"`
	// Extensions are runc's non-kernel options (EXT_COPYUP for "tmpcopyup").
	Extensions int `json:"extensions,omitempty"`
	// IDMapped: an idmapped bind mount (mount_setattr MOUNT_ATTR_IDMAP) with
	// UIDMappings/GIDMappings, or the container's user namespace's when
	// they are empty; IDMapRecursive maps its submounts too ("ridmap").
	IDMapped       bool    `json:"idmapped,omitempty"`
	IDMapRecursive bool    `json:"idmapRecursive,omitempty"`
	UIDMappings    []IDMap `json:"uidMappings,omitempty"`
	GIDMappings    []IDMap `json:"gidMappings,omitempty"`
}

// Mount extensions.
const (
	EXT_COPYUP = 1 << iota //nolint:revive // mirrors runc's name
)

// IsBind reports whether the mount is a bind mount.
func (m *Mount) IsBind() bool { return m.Device == "bind" || m.Flags&msBind != 0 }

const msBind = 0x1000 // unix.MS_BIND, kept here so configs imports only the stdlib

// Device is a device node to create inside the container.
type Device struct {
	Type     rune   `json:"type"` // 'c', 'b', 'p' ('u' is read as 'c')
	Path     string `json:"path"`
	Major    int64  `json:"major"`
	Minor    int64  `json:"minor"`
	FileMode uint32 `json:"fileMode"`
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
}

// Process is the user program and the credentials and limits it runs with.
type Process struct {
	Args           []string      `json:"args"`
	Env            []string      `json:"env,omitempty"`
	Cwd            string        `json:"cwd"`
	UID            uint32        `json:"uid"`
	GID            uint32        `json:"gid"`
	AdditionalGids []uint32      `json:"additionalGids,omitempty"`
	Umask          *uint32       `json:"umask,omitempty"`
	Rlimits        []Rlimit      `json:"rlimits,omitempty"`
	Terminal       bool          `json:"terminal,omitempty"`
	ConsoleHeight  uint          `json:"consoleHeight,omitempty"`
	ConsoleWidth   uint          `json:"consoleWidth,omitempty"`
	NoNewPrivs     bool          `json:"noNewPrivileges,omitempty"`
	Capabilities   *Capabilities `json:"capabilities,omitempty"`
	OOMScoreAdj    *int          `json:"oomScoreAdj,omitempty"`
	// Seccomp is filled by the seccomp work; nil means no filter.
	Seccomp         *Seccomp `json:"seccomp,omitempty"`
	ApparmorProfile string   `json:"apparmorProfile,omitempty"`
	SelinuxLabel    string   `json:"selinuxLabel,omitempty"`
	// Attrs are scheduling, I/O priority, personality, affinity and memory
	// policy (procattrs.go); nil when the spec sets none of them.
	Attrs *ProcAttrs `json:"attrs,omitempty"`
}

// Rlimit is one resource limit; Type is the RLIMIT_* number.
type Rlimit struct {
	Type int    `json:"type"`
	Name string `json:"name,omitempty"` // "RLIMIT_NOFILE", for error messages
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// Capabilities are capability names ("CAP_CHOWN") per set.
type Capabilities struct {
	Bounding    []string `json:"bounding,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
	Permitted   []string `json:"permitted,omitempty"`
	Ambient     []string `json:"ambient,omitempty"`
}

// Hook is a program the runtime runs at a lifecycle point.
type Hook struct {
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`
	Timeout *int     `json:"timeout,omitempty"` // seconds
}

// Hooks per lifecycle point, in the spec's order.
type Hooks struct {
	Prestart        []Hook `json:"prestart,omitempty"`
	CreateRuntime   []Hook `json:"createRuntime,omitempty"`
	CreateContainer []Hook `json:"createContainer,omitempty"`
	StartContainer  []Hook `json:"startContainer,omitempty"`
	Poststart       []Hook `json:"poststart,omitempty"`
	Poststop        []Hook `json:"poststop,omitempty"`
}
