package specconv

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
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

// maxArgStrlen is the kernel's MAX_ARG_STRLEN (32 pages): execve fails
// with E2BIG on a longer argument or environment string.
const maxArgStrlen = 32 * 4096

func convertProcess(p *specs.Process, c *configs.Config, ps *problem.List) {
	if p == nil {
		ps.Errorf("process", nil, `add "process": {"args": [...], "cwd": "/"}`, "required by create")
		return
	}
	if p.CommandLine != "" {
		ps.Errorf("process.commandLine", p.CommandLine, "use process.args", "windows only, use process.args")
	}
	if len(p.Args) == 0 {
		ps.Errorf("process.args", nil, `the program and its arguments, e.g. ["/bin/sh"]`, "must not be empty")
	}
	if p := checkAbs("process.cwd", p.Cwd); p != nil {
		ps.Add(p)
	}
	for i, e := range p.Env {
		field := fmt.Sprintf("process.env[%d]", i)
		if !strings.Contains(e, "=") {
			ps.Errorf(field, e, `each entry is "KEY=value"`, "must be KEY=value, got %s", problem.Q(e))
		} else if p := checkNUL(field, e); p != nil {
			ps.Add(p)
		} else if len(e) >= maxArgStrlen {
			ps.Errorf(field, e, fmt.Sprintf("execve refuses a string of %d bytes or more (E2BIG)", maxArgStrlen), "longer than the kernel's limit (%d bytes): %s", len(e), problem.Q(e))
		}
	}
	for i, a := range p.Args {
		field := fmt.Sprintf("process.args[%d]", i)
		if p := checkNUL(field, a); p != nil {
			ps.Add(p)
		} else if len(a) >= maxArgStrlen {
			ps.Errorf(field, a, fmt.Sprintf("execve refuses a string of %d bytes or more (E2BIG)", maxArgStrlen), "longer than the kernel's limit (%d bytes): %s", len(a), problem.Q(a))
		}
	}
	if p.User.Username != "" {
		ps.Errorf("process.user.username", p.User.Username, "give process.user.uid and gid", "windows only, use uid/gid, got %s", problem.Q(p.User.Username))
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		ps.Errorf("process.oomScoreAdj", *p.OOMScoreAdj, "the kernel's range is -1000 (never kill) to 1000 (kill first)", "must be in [-1000, 1000], got %d", *p.OOMScoreAdj)
	}
	if p.User.Umask != nil && *p.User.Umask > 0o777 {
		ps.Errorf("process.user.umask", *p.User.Umask, "a umask is permission bits only, e.g. 18 (0o022) in JSON's decimal", "must be at most 0777, got %#o", *p.User.Umask)
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
	out.Rlimits = convertRlimits(p.Rlimits, ps)
	out.Capabilities = convertCaps(p.Capabilities, ps)
	c.Process = out
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

func convertRlimits(in []specs.POSIXRlimit, ps *problem.List) []configs.Rlimit {
	var out []configs.Rlimit
	seen := make(map[string]int)
	for i, r := range in {
		t, ok := rlimitTypes()[r.Type]
		if !ok {
			ps.Errorf(fmt.Sprintf("process.rlimits[%d].type", i), r.Type, "want one of "+strings.Join(sortedKeys(rlimitTypes()), ", "), "unknown rlimit %s", problem.Q(r.Type))
			continue
		}
		if j, dup := seen[r.Type]; dup {
			ps.Errorf(fmt.Sprintf("process.rlimits[%d].type", i), r.Type, "give each rlimit once", "%q already set by process.rlimits[%d]", r.Type, j)
			continue
		}
		seen[r.Type] = i
		if r.Soft > r.Hard {
			ps.Errorf(fmt.Sprintf("process.rlimits[%d]", i), r, "soft is at most hard (setrlimit refuses it with EINVAL)", "soft limit %d exceeds hard limit %d", r.Soft, r.Hard)
			continue
		}
		out = append(out, configs.Rlimit{Type: t, Name: r.Type, Soft: r.Soft, Hard: r.Hard})
	}
	return out
}

func convertCaps(in *specs.LinuxCapabilities, ps *problem.List) *configs.Capabilities {
	if in == nil {
		return nil
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
			if p := checkNUL(fmt.Sprintf("process.capabilities.%s[%d]", s.name, i), name); p != nil {
				ps.Add(p)
				continue
			}
			if !slices.Contains(knownCaps, name) {
				hint := "capability names are upper case with the CAP_ prefix, e.g. CAP_NET_ADMIN (`ocirun features` lists them)"
				up := strings.ToUpper(name)
				if !strings.HasPrefix(up, "CAP_") {
					up = "CAP_" + up
				}
				if slices.Contains(knownCaps, up) {
					hint = "did you mean " + up + "?"
				}
				ps.Warnf(fmt.Sprintf("process.capabilities.%s[%d]", s.name, i), name, hint, "unknown capability %s: ignored", problem.Q(name))
			}
		}
	}
	return &configs.Capabilities{
		Bounding:    slices.Clone(in.Bounding),
		Effective:   slices.Clone(in.Effective),
		Inheritable: slices.Clone(in.Inheritable),
		Permitted:   slices.Clone(in.Permitted),
		Ambient:     slices.Clone(in.Ambient),
	}
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
	var ps problem.List
	convertProcess(p, &c, &ps)
	c.Process.Attrs = processAttrs(p, &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return &c.Process, nil
}
