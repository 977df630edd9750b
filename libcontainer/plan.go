package libcontainer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/capabilities"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/proto"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
)

// compilePlan turns the process config into the C stage's plan: every
// decision (capability numbers, seccomp program and flags, which LSM file,
// when to load the filter) is taken here, so init only makes syscalls.
func (p *initProcess) compilePlan(bpf []byte) (*nsexec.Plan, error) {
	proc := p.proc
	plan := &nsexec.Plan{
		Args:        proc.Args,
		Env:         proc.Env,
		Cwd:         proc.Cwd,
		UID:         proc.UID,
		GID:         proc.GID,
		Groups:      proc.AdditionalGids,
		NoNewPrivs:  proc.NoNewPrivs,
		Umask:       0o022, // whatever ours is, as runc does
		PreserveFDs: uint32(p.preserveFDs),
		Trace:       p.trace != nil,
		Debug:       p.log.Enabled(context.Background(), slog.LevelDebug),
	}
	if p.preserveFDs > 0 {
		// systemd socket activation inside the container, as runc sets it.
		plan.Env = append(plan.Env[:len(plan.Env):len(plan.Env)], "LISTEN_FDS="+strconv.Itoa(p.preserveFDs), "LISTEN_PID=1")
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
	return plan, nil
}

// planCreate adds what only a new container's init does: exec.fifo, the
// session keyring, the rootfs of --no-pivot, the console from the parent's
// thread and the startContainer hooks.
func (p *createInit) planCreate(plan *nsexec.Plan) error {
	plan.FifoFd = uint32(p.fifoFd)
	if !p.opts.NoNewKeyring {
		plan.Keyring = sessionKeyring(p.id)
	}
	plan.RootFd = p.cfg.NoPivot
	if p.cfg.Process.Terminal {
		plan.Console = nsexec.ConsoleFd
	}
	return p.planHooks(plan)
}

// planLSM adds the LSM attributes init writes. Whether the host enforces
// them was decided on the host (p.lsm), and a label it cannot apply was
// refused before anything was created.
func (p *initProcess) planLSM(plan *nsexec.Plan) error {
	proc := p.proc
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
func (p *createInit) planHooks(plan *nsexec.Plan) error {
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
	state := string(hookState(p.id, -1357924680, Created, p.bundle, p.cfg))
	pre, post, ok := strings.Cut(state, pidMark)
	if !ok {
		return fmt.Errorf("hook state %q has no pid", state)
	}
	plan.StatePre, plan.StatePost = pre+`"pid":`, post
	return nil
}

// stepError words a failed step of the C stage as the Go init would have.
func stepError(proc *configs.Process, m *proto.Error) error {
	errno := unix.Errno(m.Errno)
	capName := func() string { return "CAP_" + strings.ToUpper(capability.Cap(m.Arg).String()) }
	switch m.Step {
	case "procfs":
		return fmt.Errorf("open a private procfs: %w", errno)
	case "keyring":
		return fmt.Errorf("join session keyring: %w", errno)
	case "keyring-perm":
		return fmt.Errorf("set session keyring permissions: %w", errno)
	case "setsid":
		return os.NewSyscallError("setsid", errno)
	case "ctty":
		return &os.PathError{Op: "ioctl TIOCSCTTY", Path: "console", Err: errno}
	case "ctty-fd":
		return os.NewSyscallError("dup3", fmt.Errorf("console onto fd %d: %w", m.Arg, errno))
	case "ptmx":
		return &os.PathError{Op: "open", Path: "/dev/ptmx", Err: errno}
	case "ptmx-unlock":
		return &os.PathError{Op: "ioctl TIOCSPTLCK", Path: "/dev/ptmx", Err: errno}
	case "ptmx-ptn":
		return &os.PathError{Op: "ioctl TIOCGPTN", Path: "/dev/ptmx", Err: errno}
	case "ptmx-peer":
		if errno == unix.EXDEV {
			return fmt.Errorf("/dev/pts/%d: not a devpts slave", m.Arg)
		}
		return &os.PathError{Op: "ioctl TIOCGPTPEER", Path: fmt.Sprintf("/dev/pts/%d", m.Arg), Err: errno}
	case "winsize":
		return &os.PathError{Op: "ioctl TIOCSWINSZ", Path: "/dev/ptmx", Err: errno}
	case "close_range":
		return os.NewSyscallError("close_range", errno)
	case "lsm":
		if errno == unix.EXDEV {
			return errors.New("LSM attribute file is not procfs's own: refusing to write the label")
		}
		if m.Arg == nsexec.LSMAppArmor {
			return fmt.Errorf("process.apparmorProfile %q: %w", proc.ApparmorProfile, errno)
		}
		return fmt.Errorf("process.selinuxLabel %q: %w", proc.SelinuxLabel, errno)
	case "rlimit":
		if m.Arg >= 0 && m.Arg < len(proc.Rlimits) {
			rl := proc.Rlimits[m.Arg]
			return fmt.Errorf("process.rlimits: setrlimit %s (soft %d, hard %d): %w", rl.Name, rl.Soft, rl.Hard, errno)
		}
	case "keylabel":
		if errno == unix.EXDEV {
			return errors.New("keycreate attribute file is not procfs's own: refusing to write the label")
		}
		return fmt.Errorf("process.selinuxLabel %q: keyring label: %w", proc.SelinuxLabel, errno)
	case "nnp":
		return os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", errno)
	case "personality":
		if a := proc.Attrs; a != nil && a.Personality != nil {
			return fmt.Errorf("linux.personality: %w", os.NewSyscallError("personality("+a.Personality.Name+")", errno))
		}
	case "sched":
		if a := proc.Attrs; a != nil && a.Scheduler != nil {
			s := a.Scheduler
			return fmt.Errorf("process.scheduler: %w%s", os.NewSyscallError("sched_setattr("+s.Name+")", errno), schedHint(s, errno))
		}
	case "ioprio":
		if a := proc.Attrs; a != nil && a.IOPriority != nil {
			io := a.IOPriority
			return fmt.Errorf("process.ioPriority: %w", os.NewSyscallError(fmt.Sprintf("ioprio_set(%s, %d)", ioprioClassName(io.Class), io.Priority), errno))
		}
	case "bounding-read":
		return fmt.Errorf("read bounding %s: %w", capName(), os.NewSyscallError("prctl", errno))
	case "bounding":
		return fmt.Errorf("drop bounding %s: %w", capName(), os.NewSyscallError("prctl", errno))
	case "keepcaps":
		return fmt.Errorf("set keepcaps: %w", os.NewSyscallError("prctl", errno))
	case "keepcaps-clear":
		return fmt.Errorf("clear keepcaps: %w", os.NewSyscallError("prctl", errno))
	case "stdio":
		return fmt.Errorf("give fd %d (stdio) to uid %d: %w", m.Arg, proc.UID, errno)
	case "setgroups":
		return os.NewSyscallError("setgroups", errno)
	case "setgid":
		return fmt.Errorf("setgid %d: %w", m.Arg, errno)
	case "setuid":
		return fmt.Errorf("setuid %d: %w", m.Arg, errno)
	case "chroot":
		return &os.PathError{Op: "chroot", Path: "rootfs", Err: errno}
	case "chdir-root":
		return &os.PathError{Op: "chdir", Path: "/", Err: errno}
	case "chdir":
		return &os.PathError{Op: "chdir", Path: proc.Cwd, Err: errno}
	case "getcwd":
		return fmt.Errorf("current working directory is outside of container mount namespace root: %w", errno)
	case "cwd-outside":
		return fmt.Errorf("current working directory %q is outside of container mount namespace root", m.Detail)
	case "capget":
		return os.NewSyscallError("capget", errno)
	case "capset-raise":
		return os.NewSyscallError("capset", errno)
	case "capset":
		return fmt.Errorf("set capabilities: %w", os.NewSyscallError("capset", errno))
	case "ambient-clear":
		return fmt.Errorf("clear ambient capabilities: %w", os.NewSyscallError("prctl", errno))
	case "seccomp":
		hint := ""
		if errno == unix.EACCES {
			hint = " (needs no_new_privs or CAP_SYS_ADMIN)"
		}
		return fmt.Errorf("linux.seccomp: seccomp: load filter: %w%s", os.NewSyscallError("seccomp", errno), hint)
	case "lookpath":
		// os/exec.LookPath's wording, as the Go init reports it.
		name := strconv.Quote(m.Detail)
		switch m.Arg {
		case 1:
			return fmt.Errorf("exec: %s: %w", name, &os.PathError{Op: "stat", Path: m.Detail, Err: errno})
		case 2:
			return fmt.Errorf("exec: %s: %w", name, errno)
		case 3:
			return fmt.Errorf("exec: %s: executable file not found in $PATH", name)
		case 4:
			return fmt.Errorf("exec: %s: cannot run executable found relative to current directory", name)
		}
	}
	return fmt.Errorf("init: step %s (%d) failed: %w", m.Step, m.Arg, errno)
}
