package libcontainer

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"

	"github.com/ocirun/ocirun/libcontainer/capabilities"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
)

// envGoInit forces the Go init for every container and exec: a way to tell
// whether a problem is the C process stage's, and to test the Go path.
const envGoInit = "OCIRUN_GO_INIT"

// useCInit reports whether init runs in C after the namespaces (the parent
// builds the rootfs and compiles the rest into a plan). The Go init stays
// where the parent cannot join the container's namespaces to build its
// rootfs (a user namespace: a multithreaded process cannot enter one).
func (p *initProcess) useCInit() bool {
	if os.Getenv(envGoInit) == "1" {
		return false
	}
	if p.exec {
		return true
	}
	_, userns := p.cfg.Namespace(configs.NEWUSER)
	return !userns && os.Geteuid() == 0
}

// procMounts counts the config's proc mounts: each needs a procfs context
// from init, which alone is in the container's pid namespace.
func procMounts(cfg *configs.Config) uint32 {
	var n uint32
	for i := range cfg.Mounts {
		if cfg.Mounts[i].Device == "proc" && !cfg.Mounts[i].IsBind() {
			n++
		}
	}
	return n
}

// compilePlan turns the process config into the C stage's plan: every
// decision (capability numbers, seccomp program and flags, which LSM file,
// when to load the filter) is taken here, so init only makes syscalls.
func (p *initProcess) compilePlan(bpf []byte) (*nsexec.Plan, error) {
	proc := &p.cfg.Process
	plan := &nsexec.Plan{
		Args:        proc.Args,
		Env:         proc.Env,
		Cwd:         proc.Cwd,
		UID:         proc.UID,
		GID:         proc.GID,
		Groups:      proc.AdditionalGids,
		NoNewPrivs:  proc.NoNewPrivs,
		Umask:       0o022, // whatever ours is, as runc does
		PreserveFDs: uint32(p.opts.PreserveFDs),
		Trace:       p.trace != nil,
	}
	if p.opts.PreserveFDs > 0 {
		// systemd socket activation inside the container, as runc sets it.
		plan.Env = append(plan.Env[:len(plan.Env):len(plan.Env)], "LISTEN_FDS="+strconv.Itoa(p.opts.PreserveFDs), "LISTEN_PID=1")
	}
	if proc.Umask != nil {
		plan.Umask = *proc.Umask
	}
	if proc.Capabilities != nil {
		c, warnings, err := capabilities.New(proc.Capabilities)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			p.log.Warn(w)
		}
		last, err := capability.LastCap()
		if err != nil {
			return nil, fmt.Errorf("last capability of the kernel: %w", err)
		}
		caps := &nsexec.Caps{LastCap: uint32(last)}
		caps.Bounding, caps.Effective, caps.Inheritable, caps.Permitted, caps.Ambient = c.Masks()
		plan.Caps = caps
	}
	for i, rl := range proc.Rlimits {
		plan.Rlimits = append(plan.Rlimits, nsexec.Rlimit{Resource: uint32(rl.Type), Index: uint32(i), Soft: rl.Soft, Hard: rl.Hard})
	}
	if err := p.planLSM(plan); err != nil {
		return nil, err
	}
	if sc := proc.Seccomp; sc != nil {
		flags, err := seccomp.LoadFlags(sc)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", err)
		}
		plan.SeccompFlags, plan.SeccompBPF = flags, bpf
		switch {
		case !proc.NoNewPrivs:
			plan.SeccompWhen = nsexec.SeccompEarly
		case sc.HasNotify():
			plan.SeccompWhen = nsexec.SeccompReady
		default:
			plan.SeccompWhen = nsexec.SeccompLast
		}
	}
	planAttrs(plan, proc.Attrs)
	if !p.exec {
		plan.FifoFd = uint32(p.fifoFd)
		if !p.opts.NoNewKeyring {
			plan.Keyring = "_ses." + p.id
		}
		plan.RootFd = p.cfg.NoPivot
		if err := p.planHooks(plan); err != nil {
			return nil, err
		}
	}
	if proc.Terminal {
		plan.Console = nsexec.ConsoleFd
		if p.exec {
			plan.Console = nsexec.ConsoleNew
			plan.Rows, plan.Cols = uint16(proc.ConsoleHeight), uint16(proc.ConsoleWidth)
		}
	}
	return plan, nil
}

// planLSM adds the LSM attributes init writes. Whether the host enforces
// them was decided on the host (p.lsm), and a label it cannot apply was
// refused before anything was created.
func (p *initProcess) planLSM(plan *nsexec.Plan) error {
	proc := &p.cfg.Process
	if err := p.lsm.checkProcess(proc); err != nil {
		return err
	}
	if profile := proc.ApparmorProfile; profile != "" {
		// The per-LSM file exists since 5.8; attr/exec is the older interface.
		file := "attr/apparmor/exec"
		if _, err := os.Stat("/proc/thread-self/attr/apparmor"); err != nil {
			file = "attr/exec"
		}
		plan.LSM = append(plan.LSM, nsexec.LSMAttr{Kind: nsexec.LSMAppArmor, File: file, Value: "exec " + profile})
	}
	if l := proc.SelinuxLabel; l != "" {
		plan.LSM = append(plan.LSM, nsexec.LSMAttr{Kind: nsexec.LSMSELinux, File: "attr/exec", Value: l})
		// The container's session keyring carries the process label, as runc
		// makes it: a labelled process could not use it otherwise.
		plan.KeyLabel = l
	}
	return nil
}

func planAttrs(plan *nsexec.Plan, a *configs.ProcAttrs) {
	if a == nil {
		return
	}
	if per := a.Personality; per != nil {
		d := per.Domain
		plan.Personality = &d
	}
	if s := a.Scheduler; s != nil {
		plan.Sched = &nsexec.Sched{Policy: s.Policy, Priority: s.Priority, Flags: s.Flags, Nice: s.Nice, Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	}
	if io := a.IOPriority; io != nil {
		v := uint32(io.Value())
		plan.IOPrio = &v
	}
	if aff := a.CPUAffinity; aff != nil && aff.Final != nil {
		mask := make([]byte, maxRange(aff.Final)/8+1)
		for _, r := range aff.Final {
			for c := r.First; c <= r.Last; c++ {
				mask[c/8] |= 1 << (c % 8)
			}
		}
		// sched_setaffinity wants a length in whole longs.
		for len(mask)%8 != 0 {
			mask = append(mask, 0)
		}
		plan.Affinity = mask
	}
	if mp := a.MemoryPolicy; mp != nil {
		m := &nsexec.MemPolicy{Mode: uint32(mp.Mode), Name: mp.Name}
		if len(mp.Nodes) > 0 {
			m.Nodes = make([]uint64, maxRange(mp.Nodes)/64+1)
			for _, r := range mp.Nodes {
				for n := r.First; n <= r.Last; n++ {
					m.Nodes[n/64] |= 1 << (n % 64)
				}
			}
		}
		// The kernel reads one node fewer than maxnode says; see setMemPolicy.
		m.MaxNode = uint64(len(m.Nodes)*64 + 1)
		plan.MemPolicy = m
	}
}

// pidMark stands for init's pid in the hooks' state: init fills in its pid
// as its own pid namespace sees it, as the Go init's os.Getpid does.
const pidMark = `"pid":-1357924680`

// planHooks adds the startContainer hooks, which init runs itself after
// `start`, inside the container.
func (p *initProcess) planHooks(plan *nsexec.Plan) error {
	hs := p.cfg.Hooks.StartContainer
	if len(hs) == 0 {
		return nil
	}
	for _, h := range hs {
		var timeout uint32
		if h.Timeout != nil {
			if *h.Timeout <= 0 {
				return fmt.Errorf("hooks.startContainer %q: timeout %d: must be a positive number of seconds", h.Path, *h.Timeout)
			}
			timeout = uint32(*h.Timeout)
		}
		plan.Hooks = append(plan.Hooks, nsexec.Hook{Path: h.Path, Args: h.Args, Env: h.Env, Timeout: timeout})
	}
	state := string(hookState(p.id, -1357924680, Created, p.opts.Bundle, p.cfg))
	pre, post, ok := strings.Cut(state, pidMark)
	if !ok {
		return fmt.Errorf("hook state %q has no pid", state)
	}
	plan.StatePre, plan.StatePost = pre+`"pid":`, post
	return nil
}
