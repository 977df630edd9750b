package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
)

// CreateOpts are the create/run flags that shape the init process.
type CreateOpts struct {
	Bundle        string
	ConsoleSocket string
	// NotifySocket is the caller's $NOTIFY_SOCKET (sd_notify passthrough).
	NotifySocket string
	PidFile      string
	PreserveFDs  int
	NoNewKeyring bool
	// Foreground: the caller stays (run without -d): it receives the pty master
	// instead of a console socket, and reaps the init as a subreaper.
	Foreground bool
}

// Env names through which the parent hands fds to `ocirun init`.
const (
	envInitPipe = "_OCIRUN_INITPIPE"
	envLogPipe  = "_OCIRUN_LOGPIPE"
	envFifoFd   = "_OCIRUN_FIFOFD"
	envPreserve = "_OCIRUN_PRESERVE_FDS"
	envExeFd    = "_OCIRUN_EXEFD"
)

// Create builds the container up to the point where its init waits on
// exec.fifo. On any error nothing is left: no state dir, cgroup or process.
// With opts.Foreground and terminal: true the pty master is returned.
func (r *Root) Create(id string, cfg *configs.Config, opts *CreateOpts) (c *Container, master *os.File, err error) {
	if cfg.Process.Terminal && opts.ConsoleSocket == "" && !opts.Foreground {
		return nil, nil, errors.New("cannot allocate tty if ocirun will detach without setting console socket")
	}
	if !cfg.Process.Terminal && opts.ConsoleSocket != "" {
		return nil, nil, errors.New("cannot use console socket if ocirun will not detach or allocate tty")
	}
	lsm := detectLSM(&cfg.Process, cfg.MountLabel)
	if err := lsm.checkContainer(cfg, r.Log); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(r.Path, 0o700); err != nil {
		return nil, nil, err
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, fmt.Errorf("container with id exists: %s", id)
		}
		return nil, nil, err
	}
	if opts.NotifySocket != "" {
		if err := setupNotify(dir, opts.NotifySocket, cfg); err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
	}
	p := &initProcess{root: r, id: id, dir: dir, cfg: cfg, opts: opts, log: r.Log, trace: r.Trace, lsm: lsm}
	defer func() {
		if err != nil {
			p.cleanup()
			if master != nil {
				master.Close()
				master = nil
			}
		}
	}()
	lock, err := lockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	defer lock.Close()
	r.Trace.Mark("state-dir")
	if err := p.start(); err != nil {
		return nil, nil, err
	}
	master, err = p.drive()
	if err != nil {
		return nil, nil, err
	}
	st := &State{
		ID:          id,
		InitPid:     p.initPid,
		Bundle:      opts.Bundle,
		Rootfs:      cfg.Rootfs,
		Annotations: cfg.Annotations,
		Created:     p.created,
		Owner:       "",
		CgroupPaths: p.cgroupPaths(),
		SystemdUnit: cgroups.SystemdUnit(p.cg),
		Config:      cfg,
	}
	if st.InitStart, _, err = procStat(p.initPid); err != nil {
		return nil, nil, fmt.Errorf("init exited during create: %w", err)
	}
	if err := saveState(dir, st, true); err != nil {
		return nil, nil, err
	}
	r.Trace.Mark("save-state")
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, p.initPid); err != nil {
			return nil, nil, err
		}
	}
	p.closeParentEnds()
	return &Container{ID: id, dir: dir, state: st}, master, nil
}

// writePidFile writes through a temp file and rename, so a reader (conmon,
// containerd) never sees a partial pid.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644)
}

func hasNewNS(cfg *configs.Config, t string) bool {
	ns, ok := cfg.Namespace(t)
	return ok && ns.Path == ""
}

func hostID(maps []configs.IDMap, id uint32) uint32 {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return m.HostID + id - m.ContainerID
		}
	}
	return id
}

var nsFlags = map[string]uint32{
	configs.NEWPID:    unix.CLONE_NEWPID,
	configs.NEWNET:    unix.CLONE_NEWNET,
	configs.NEWIPC:    unix.CLONE_NEWIPC,
	configs.NEWUTS:    unix.CLONE_NEWUTS,
	configs.NEWNS:     unix.CLONE_NEWNS,
	configs.NEWCGROUP: unix.CLONE_NEWCGROUP,
	configs.NEWUSER:   unix.CLONE_NEWUSER,
	configs.NEWTIME:   unix.CLONE_NEWTIME,
}

// bootstrapFor encodes what the C stage does: the namespaces and, with a
// process mode, that init stays in C (cinit.go).
func bootstrapFor(cfg *configs.Config, process uint32) ([]byte, error) {
	b := nsexec.Bootstrap{Process: process}
	if process == nsexec.ProcessCreate {
		b.ProcContexts = procMounts(cfg)
	}
	for _, ns := range cfg.Namespaces {
		flag := nsFlags[ns.Type]
		if ns.Path != "" {
			b.Join = append(b.Join, nsexec.NSPath{Flag: flag, Path: ns.Path})
		} else {
			b.CloneFlags |= flag
		}
		if ns.Type == configs.NEWPID || ns.Type == configs.NEWTIME {
			b.Fork = true
		}
	}
	if len(cfg.TimeOffsets) > 0 && hasNewNS(cfg, configs.NEWTIME) {
		for _, clock := range []string{"monotonic", "boottime"} {
			if off, ok := cfg.TimeOffsets[clock]; ok {
				b.TimeOffsets += fmt.Sprintf("%s %d %d\n", clock, off.Secs, off.Nanosecs)
			}
		}
	}
	return b.Encode()
}

// writeIDMaps writes the user namespace maps of pid from outside it, as only
// a process with privileges over the parent namespace can.
func writeIDMaps(pid int, cfg *configs.Config) error {
	write := func(file string, maps []configs.IDMap) error {
		var data []byte
		for _, m := range maps {
			data = fmt.Appendf(data, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, file)
		if err := os.WriteFile(path, data, 0); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		return nil
	}
	if err := write("uid_map", cfg.UIDMappings); err != nil {
		return err
	}
	return write("gid_map", cfg.GIDMappings)
}
