package specconv

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// knownCaps are the capability names of Linux up to 5.9 (CAP_CHECKPOINT_RESTORE,
// number 40), the newest at the time of writing.
var knownCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// KnownCapabilities lists the capability names ToConfig accepts, in kernel order.
func KnownCapabilities() []string { return slices.Clone(knownCaps) }

var rlimitTypes = sync.OnceValue(func() map[string]int {
	return map[string]int{
		"RLIMIT_AS":         unix.RLIMIT_AS,
		"RLIMIT_CORE":       unix.RLIMIT_CORE,
		"RLIMIT_CPU":        unix.RLIMIT_CPU,
		"RLIMIT_DATA":       unix.RLIMIT_DATA,
		"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
		"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
		"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
		"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
		"RLIMIT_NICE":       unix.RLIMIT_NICE,
		"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
		"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
		"RLIMIT_RSS":        unix.RLIMIT_RSS,
		"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
		"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
		"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
		"RLIMIT_STACK":      unix.RLIMIT_STACK,
	}
})

func convertProcess(p *specs.Process, c *configs.Config) error {
	if p == nil {
		return errors.New("process: required by create")
	}
	if p.CommandLine != "" {
		return errors.New("process.commandLine: windows only, use process.args")
	}
	if len(p.Args) == 0 {
		return errors.New("process.args: must not be empty")
	}
	if err := checkAbs("process.cwd", p.Cwd); err != nil {
		return err
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") {
			return fmt.Errorf("process.env[%d]: must be KEY=value, got %q", i, e)
		}
		if err := checkNUL(fmt.Sprintf("process.env[%d]", i), e); err != nil {
			return err
		}
	}
	for i, a := range p.Args {
		if err := checkNUL(fmt.Sprintf("process.args[%d]", i), a); err != nil {
			return err
		}
	}
	if p.User.Username != "" {
		return fmt.Errorf("process.user.username: windows only, use uid/gid, got %q", p.User.Username)
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("process.oomScoreAdj: must be in [-1000, 1000], got %d", *p.OOMScoreAdj)
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		return fmt.Errorf("process.user.umask: must be at most 0777, got %#o", *p.User.Umask)
	}
	out := configs.Process{
		Args:            slices.Clone(p.Args),
		Env:             dedupEnv(p.Env),
		Cwd:             p.Cwd,
		UID:             p.User.UID,
		GID:             p.User.GID,
		AdditionalGids:  slices.Clone(p.User.AdditionalGids),
		Umask:           clonePtr(p.User.Umask),
		Terminal:        p.Terminal,
		NoNewPrivs:      p.NoNewPrivileges,
		OOMScoreAdj:     clonePtr(p.OOMScoreAdj),
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
	}
	// The spec says runtimes MUST ignore consoleSize without a terminal.
	if p.Terminal && p.ConsoleSize != nil {
		out.ConsoleHeight = p.ConsoleSize.Height
		out.ConsoleWidth = p.ConsoleSize.Width
	}
	rl, err := convertRlimits(p.Rlimits)
	if err != nil {
		return err
	}
	out.Rlimits = rl
	caps, err := convertCaps(p.Capabilities)
	if err != nil {
		return err
	}
	out.Capabilities = caps
	c.Process = out
	return nil
}

// dedupEnv keeps the last value of each variable, where that last one
// stands, as runc 1.4 does (and Go's os/exec): `exec --env A=2` overrides
// the config's A=1, and the program sees one A. A copy, even when nothing
// repeats.
func dedupEnv(env []string) []string {
	if env == nil {
		return nil
	}
	last := make(map[string]int, len(env))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	out := make([]string, 0, len(last))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}

func convertRlimits(in []specs.POSIXRlimit) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	seen := make(map[string]int)
	for i, r := range in {
		t, ok := rlimitTypes()[r.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits[%d].type: unknown rlimit %q", i, r.Type)
		}
		if j, dup := seen[r.Type]; dup {
			return nil, fmt.Errorf("process.rlimits[%d].type: %q already set by process.rlimits[%d]", i, r.Type, j)
		}
		seen[r.Type] = i
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("process.rlimits[%d]: soft limit %d exceeds hard limit %d", i, r.Soft, r.Hard)
		}
		out = append(out, configs.Rlimit{Type: t, Name: r.Type, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}

func convertCaps(in *specs.LinuxCapabilities) (*configs.Capabilities, error) {
	if in == nil {
		return nil, nil
	}
	sets := []struct {
		name string
		list []string
	}{
		{"bounding", in.Bounding},
		{"effective", in.Effective},
		{"inheritable", in.Inheritable},
		{"permitted", in.Permitted},
		{"ambient", in.Ambient},
	}
	// An unknown name is not refused: runtime-spec 1.3 has it logged and
	// ignored, which the capabilities package does where the sets are built.
	for _, s := range sets {
		for i, name := range s.list {
			if err := checkNUL(fmt.Sprintf("process.capabilities.%s[%d]", s.name, i), name); err != nil {
				return nil, err
			}
		}
	}
	return &configs.Capabilities{
		Bounding:    slices.Clone(in.Bounding),
		Effective:   slices.Clone(in.Effective),
		Inheritable: slices.Clone(in.Inheritable),
		Permitted:   slices.Clone(in.Permitted),
		Ambient:     slices.Clone(in.Ambient),
	}, nil
}

// clonePtr copies *p so the config never aliases the caller's spec.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ToProcess validates and converts a Process on its own, as `exec --process`
// passes one; field paths in errors start at "process.".
func ToProcess(p *specs.Process) (*configs.Process, error) {
	var c configs.Config
	if err := convertProcess(p, &c); err != nil {
		return nil, err
	}
	attrs, err := processAttrs(p)
	if err != nil {
		return nil, err
	}
	c.Process.Attrs = attrs
	return &c.Process, nil
}
