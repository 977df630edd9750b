package specconv

import (
	"errors"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// ExecFlags are what `exec` gives on its command line, parsed: what each
// leaves empty comes from the container's process.
type ExecFlags struct {
	Args           []string
	Env            []string // added to the container's
	Cwd            string
	Terminal       bool
	UID, GID       *uint32
	AdditionalGids []uint32 // added to the container's
	AppArmor       string
	ProcessLabel   string
	NoNewPrivs     *bool
	// Caps are added to the bounding, effective and permitted sets, never
	// to the inheritable one (CVE-2022-29162): an exec'd program must not
	// pass them on through execve of a file with inheritable capabilities.
	// Those the container's inheritable set already holds go to the ambient
	// set too, as runc 1.4 does, so a non-root user keeps them across execve.
	Caps []string
}

// ExecProcess is the process `exec` starts from its command line in a
// container whose own process is base: base's settings with the flags on
// top, validated as a config's process is, and with what it leaves out
// inherited (inheritProcess). libcontainer runs it as given.
func ExecProcess(base *configs.Process, f ExecFlags) (*configs.Process, error) {
	if len(f.Args) == 0 {
		return nil, errors.New("exec args cannot be empty")
	}
	p := &specs.Process{
		Args:            f.Args,
		Env:             append(slices.Clone(base.Env), f.Env...),
		Cwd:             base.Cwd,
		Terminal:        f.Terminal,
		NoNewPrivileges: base.NoNewPrivs,
		User:            specs.User{UID: base.UID, GID: base.GID, AdditionalGids: append(slices.Clone(base.AdditionalGids), f.AdditionalGids...), Umask: base.Umask},
		ApparmorProfile: f.AppArmor,
		SelinuxLabel:    f.ProcessLabel,
	}
	if f.NoNewPrivs != nil {
		// As runc: --no-new-privs=false is an explicit choice too.
		p.NoNewPrivileges = *f.NoNewPrivs
	}
	if f.Cwd != "" {
		p.Cwd = f.Cwd
	}
	if f.UID != nil {
		p.User.UID = *f.UID
	}
	if f.GID != nil {
		p.User.GID = *f.GID
	}
	if len(f.Caps) > 0 {
		c := &specs.LinuxCapabilities{}
		if bc := base.Capabilities; bc != nil {
			c = &specs.LinuxCapabilities{
				Bounding: slices.Clone(bc.Bounding), Effective: slices.Clone(bc.Effective),
				Inheritable: slices.Clone(bc.Inheritable), Permitted: slices.Clone(bc.Permitted), Ambient: slices.Clone(bc.Ambient),
			}
		}
		c.Bounding = append(c.Bounding, f.Caps...)
		c.Effective = append(c.Effective, f.Caps...)
		c.Permitted = append(c.Permitted, f.Caps...)
		for _, name := range f.Caps {
			if slices.Contains(c.Inheritable, name) && !slices.Contains(c.Ambient, name) {
				c.Ambient = append(c.Ambient, name)
			}
		}
		p.Capabilities = c
	}
	out, err := ToProcess(p)
	if err != nil {
		return nil, err
	}
	inheritProcess(out, base)
	return out, nil
}

// DecodeExecProcess is the process of `exec --process`: the process.json b,
// validated, with what it leaves out inherited from the container's process
// base. noNewPrivileges is a plain bool in the spec: a file without the key
// inherits the container's, so a bare process never runs with fewer
// restrictions than the container (runc 1.1 reads the missing key as
// false); an explicit false still wins.
func DecodeExecProcess(b []byte, base *configs.Process) (*configs.Process, error) {
	// containerd runs every exec with a process.json: plainjson spares it
	// encoding/json's first-use type cache (572 k → 95 k instructions).
	var p specs.Process
	if err := plainjson.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	var keys struct {
		NoNewPrivileges *bool `json:"noNewPrivileges"`
	}
	if err := plainjson.Unmarshal(b, &keys); err != nil {
		return nil, err
	}
	if keys.NoNewPrivileges == nil {
		p.NoNewPrivileges = base.NoNewPrivs
	}
	out, err := ToProcess(&p)
	if err != nil {
		return nil, err
	}
	inheritProcess(out, base)
	return out, nil
}

// inheritProcess fills in what an exec'd process leaves out with the
// container's own settings, field by field as runc does: capabilities,
// AppArmor profile, SELinux label, rlimits and oomScoreAdj when omitted, always the
// container's seccomp filter, and the attributes of execAttrs. A client
// sending a bare process.json must not get the runtime's full capability
// set and no LSM; a value it does give wins.
func inheritProcess(p, container *configs.Process) {
	if p.Capabilities == nil {
		p.Capabilities = container.Capabilities
	}
	if p.ApparmorProfile == "" {
		p.ApparmorProfile = container.ApparmorProfile
	}
	if p.SelinuxLabel == "" {
		p.SelinuxLabel = container.SelinuxLabel
	}
	if len(p.Rlimits) == 0 {
		p.Rlimits = container.Rlimits
	}
	// The caller's own score (a shim's is often -998) must not reach the
	// container: runc's nsexec writes the container's into every process.
	if p.OOMScoreAdj == nil {
		p.OOMScoreAdj = container.OOMScoreAdj
	}
	if p.Seccomp == nil {
		p.Seccomp = container.Seccomp
	}
	p.Attrs = execAttrs(container.Attrs, p.Attrs)
}

// execAttrs returns the attributes of a process `exec` starts in a
// container: linux.personality and linux.memoryPolicy are the container's;
// scheduler, I/O priority and exec affinity are the exec'd process's own,
// or else the container's process's (as `runc exec` takes them from
// config.json when no --process gives them).
func execAttrs(container, exec *configs.ProcAttrs) *configs.ProcAttrs {
	var out configs.ProcAttrs
	if exec != nil {
		out = *exec
	}
	if container != nil {
		out.Personality = container.Personality
		out.MemoryPolicy = container.MemoryPolicy
		if out.Scheduler == nil {
			out.Scheduler = container.Scheduler
		}
		if out.IOPriority == nil {
			out.IOPriority = container.IOPriority
		}
		if out.ExecCPUAffinity == nil {
			out.ExecCPUAffinity = container.ExecCPUAffinity
		}
	}
	out.CPUAffinity = out.ExecCPUAffinity
	if out == (configs.ProcAttrs{}) {
		return nil
	}
	return &out
}
