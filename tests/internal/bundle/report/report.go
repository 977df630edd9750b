// Package report defines the JSON the in-container probe prints for `probe report`;
// the probe fills it and the integration tests decode it.
package report

// Report is what one process sees from inside its container.
type Report struct {
	Pid        int    `json:"pid"`
	Ppid       int    `json:"ppid"`
	Hostname   string `json:"hostname"`
	Domainname string `json:"domainname"`

	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	EUID   int   `json:"euid"`
	EGID   int   `json:"egid"`
	Groups []int `json:"groups"`

	Env   []string `json:"env"`
	Cwd   string   `json:"cwd"`
	Umask string   `json:"umask"` // octal, as /proc/self/status prints it

	Rlimits map[string]Rlimit `json:"rlimits"` // keyed "RLIMIT_NOFILE"

	// Capability sets as the hex masks of /proc/self/status, keyed CapEff etc.
	Caps       map[string]string `json:"caps"`
	NoNewPrivs string            `json:"noNewPrivs"`
	Seccomp    string            `json:"seccomp"`

	// Namespaces maps the /proc/self/ns entry name to its link ("net:[4026531840]").
	Namespaces map[string]string `json:"namespaces"`
	UIDMap     string            `json:"uidMap"`
	GIDMap     string            `json:"gidMap"`
	Setgroups  string            `json:"setgroups"`

	Mounts []Mount `json:"mounts"`
	Cgroup string  `json:"cgroup"` // raw /proc/self/cgroup

	// FDs maps each open fd (except the one reading /proc/self/fd) to its link target.
	FDs map[int]string `json:"fds"`

	// Clock readings in nanoseconds, to see time namespace offsets.
	Monotonic int64 `json:"monotonic"`
	Boottime  int64 `json:"boottime"`

	OOMScoreAdj string `json:"oomScoreAdj"`

	// SessionKeyring is the serial and description ("_ses.<id>") of the
	// process's session keyring, from keyctl(2).
	SessionKeyring Keyring `json:"sessionKeyring"`

	Stdin TTY `json:"stdin"`

	Stat map[string]Stat   `json:"stat,omitempty"`
	Cat  map[string]string `json:"cat,omitempty"`

	// Errors collects what could not be read, keyed by item, so a test sees why a field is empty.
	Errors map[string]string `json:"errors,omitempty"`
}

// Keyring names one keyring.
type Keyring struct {
	ID          int    `json:"id"`
	Description string `json:"description"`
}

// Rlimit is one getrlimit(2) answer; ^uint64(0) is unlimited.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	ID         int    `json:"id"`
	Parent     int    `json:"parent"`
	Major      int    `json:"major"`
	Minor      int    `json:"minor"`
	Root       string `json:"root"`
	Mountpoint string `json:"mountpoint"`
	Options    string `json:"options"`  // per-mount: rw,nosuid,...
	Optional   string `json:"optional"` // shared:N master:N
	FSType     string `json:"fstype"`
	Source     string `json:"source"`
	SuperOpts  string `json:"superOpts"`
}

// TTY describes fd 0.
type TTY struct {
	IsTTY bool   `json:"isatty"`
	Name  string `json:"ttyname,omitempty"`
	Rows  int    `json:"rows,omitempty"`
	Cols  int    `json:"cols,omitempty"`
	// UID and GID own the terminal (fstat of fd 0).
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

// Stat is lstat(2) of one path.
type Stat struct {
	Exists bool   `json:"exists"`
	Error  string `json:"error,omitempty"`
	Type   string `json:"type,omitempty"` // file, dir, symlink, char, block, fifo, socket
	Mode   uint32 `json:"mode"`           // permission bits incl. setuid/setgid/sticky
	Major  uint32 `json:"major"`
	Minor  uint32 `json:"minor"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
	Link   string `json:"link,omitempty"`
}

// Mount returns the last mount at mountpoint (the visible one), or nil.
func (r *Report) Mount(mountpoint string) *Mount {
	for i := len(r.Mounts) - 1; i >= 0; i-- {
		if r.Mounts[i].Mountpoint == mountpoint {
			return &r.Mounts[i]
		}
	}
	return nil
}

// HasOption reports whether the per-mount or super options list opt.
func (m *Mount) HasOption(opt string) bool {
	for _, list := range []string{m.Options, m.SuperOpts} {
		for _, o := range splitComma(list) {
			if o == opt {
				return true
			}
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
