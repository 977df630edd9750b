package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/libcontainer/label"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
)

const msgProcfs = "procfs"

// driveC runs the parent's side for an init that stays in C (process.c):
//
//	parent                                   init (C)
//	  ◀────────────────────── procfs + fds ─   create: proc contexts of its pid ns
//	  (nsThread: mounts; limits and hooks;       waits
//	   pivot_root, console, hostname, sysctls,
//	   masked and read-only paths)
//	  ── plan (+ console slave, rootfs fd) ─▶   process settings
//	  ◀──────────────────── console + fd ───   exec with a terminal only
//	  ◀────────────────── seccomp-fd + fd ───   a NOTIFY profile
//	  ◀─────────────────────────────── ready ─   then exec.fifo (create) and execve
//	  ◀─────────────────────────────── error ─   a step name, index and errno
func (p *initProcess) driveC(bpf []byte) (*os.File, error) {
	plan, err := p.compilePlan(bpf)
	if err != nil {
		return nil, err
	}
	p.trace.Mark("plan")
	var (
		master *os.File
		fds    []int
	)
	if !p.exec {
		_, ctxs, err := expect(p.sock, msgProcfs)
		if err != nil {
			return nil, p.initError(err)
		}
		b, err := p.buildRootfs(ctxs)
		closeFiles(ctxs)
		if b.slave != nil {
			defer b.slave.Close()
			fds = append(fds, int(b.slave.Fd()))
		}
		if b.root != nil {
			defer b.root.Close()
			fds = append(fds, int(b.root.Fd()))
		}
		master = b.master
		if err != nil {
			return master, err
		}
	}
	frame, err := plan.Encode()
	if err != nil {
		return master, err
	}
	if err := writeFrame(p.sock, frame, fds...); err != nil {
		return master, p.initError(err)
	}
	for {
		m, files, err := recvMsg(p.sock)
		if err != nil {
			return master, p.initError(err)
		}
		switch m.Type {
		case msgConsole:
			if len(files) != 1 || !p.exec {
				closeFiles(files)
				return master, errors.New("protocol: unexpected console message")
			}
			if master, err = p.consoleMaster(files[0]); err != nil {
				return nil, err
			}
		case msgSeccompFd:
			if err := p.sendSeccompFd(files); err != nil {
				return master, err
			}
		case msgReady:
			p.trace.Add(m.Spans, "init", p.trace.Since()-spansTotal(m.Spans))
			p.trace.Mark("init")
			return master, nil
		case msgError:
			return master, p.stepError(m)
		default:
			closeFiles(files)
			return master, fmt.Errorf("protocol: unexpected %q", m.Type)
		}
	}
}

// consoleMaster hands a pty master to the console socket, or returns it to
// a caller in the foreground.
func (p *initProcess) consoleMaster(f *os.File) (*os.File, error) {
	if p.opts.ConsoleSocket == "" {
		return f, nil
	}
	defer f.Close()
	if err := console.SendToSocket(p.opts.ConsoleSocket, f); err != nil {
		return nil, fmt.Errorf("send console to %s: %w", p.opts.ConsoleSocket, err)
	}
	return nil, nil
}

type builtRootfs struct {
	master, slave, root *os.File
}

// buildRootfs makes the container's filesystem from a thread in init's
// namespaces, as the Go init does from inside (buildContainer): mounts, the
// cgroup limits and the hooks' turn (in our own namespaces), pivot_root, the
// console, hostname, sysctls, masked and read-only paths.
func (p *initProcess) buildRootfs(procCtx []*os.File) (b builtRootfs, err error) {
	t, err := startNSThread(p.initPid)
	if err != nil {
		return b, err
	}
	defer t.Close()
	cfg := p.cfg
	if cfg.MountLabel != "" && p.lsm.SELinux {
		// The mounts as init's Go would have labelled them, on a copy.
		c := *cfg
		c.Mounts = slices.Clone(cfg.Mounts)
		for i := range c.Mounts {
			c.Mounts[i].Data = label.MountData(c.Mounts[i].Device, c.Mounts[i].Data, cfg.MountLabel)
		}
		cfg = &c
	}
	if err := t.Do(func() error { return rootfs.Prepare(cfg, p.cgroupMount(), procCtx...) }); err != nil {
		return b, err
	}
	p.trace.MarkIn("mounts", "init")
	if err := p.limitsAndHooks(); err != nil {
		return b, err
	}
	p.trace.MarkIn("hooks", "init")
	err = t.Do(func() error {
		if err := rootfs.Pivot(p.cfg); err != nil {
			return err
		}
		p.trace.MarkIn("pivot", "init")
		if p.cfg.Process.Terminal {
			var err error
			if b.master, b.slave, err = openConsole(p.cfg, true); err != nil {
				return err
			}
		}
		// The AppArmor profile is the process stage's to set, on init's own
		// thread: it applies at execve, so after the sysctls is as good.
		if err := setupNamespaces(p.cfg, nil); err != nil {
			return err
		}
		if p.cfg.NoPivot {
			// Init's root does not follow the move onto "/": it chroots to this.
			r, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			b.root = r
		}
		return nil
	})
	if err != nil {
		return b, err
	}
	p.trace.MarkIn("finalize", "init")
	if b.master != nil {
		b.master, err = p.consoleMaster(b.master)
	}
	return b, err
}

// stepError words a failed step of the C stage as the Go init would have.
func (p *initProcess) stepError(m *message) error {
	if m.Step == "" {
		return errors.New(m.Msg)
	}
	proc := &p.cfg.Process
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
			return fmt.Errorf("apparmor: set profile %q: %w", proc.ApparmorProfile, errno)
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
	case "setgroups":
		return os.NewSyscallError("setgroups", errno)
	case "setgid":
		return fmt.Errorf("setgid %d: %w", m.Arg, errno)
	case "setuid":
		return fmt.Errorf("setuid %d: %w", m.Arg, errno)
	case "chroot":
		return &os.PathError{Op: "chroot", Path: p.cfg.Rootfs, Err: errno}
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
	case "ambient":
		return fmt.Errorf("raise ambient %s: %w", capName(), os.NewSyscallError("prctl", errno))
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
