package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// CreateOpts are the create/run flags that shape the init process.
type CreateOpts struct {
	Bundle        string
	ConsoleSocket string
	PidFile       string
	// PidfdSocket receives a pidfd of the init (--pidfd-socket).
	PidfdSocket  string
	PreserveFDs  int
	NoNewKeyring bool
	// Foreground: the caller stays (run without -d): it receives the pty master
	// instead of a console socket, and reaps the init as a subreaper.
	Foreground bool
}

// Create builds the container up to the point where its init waits on
// exec.fifo. On any error nothing is left: no state dir, cgroup or process.
// With opts.Foreground and terminal: true the pty master is returned.
func (r *Root) Create(id string, cfg *configs.Config, opts *CreateOpts) (c *Container, master *os.File, err error) {
	// `ocirun validate` runs the same checks: what it accepts, create does.
	ps := r.check(id, cfg, opts, false)
	if err := ps.Err(); err != nil {
		return nil, nil, err
	}
	for _, p := range ps {
		r.Log.Debug(p.Error())
	}
	r.Trace.Mark("check")
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
			return nil, nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, nil, err
	}
	if cfg.NotifySocket != "" {
		if err := os.Mkdir(r.NotifyDir(id), 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
	}
	p := &createInit{
		initProcess: initProcess{
			id: id, bundle: opts.Bundle, annotations: cfg.Annotations, proc: &cfg.Process,
			consoleSocket: opts.ConsoleSocket, preserveFDs: opts.PreserveFDs,
			log: r.Log, trace: r.Trace, lsm: lsm, sealDir: sealLayer(r.Path),
		},
		dir: dir, cfg: cfg, opts: opts, rootless: r.RootlessCgroups,
	}
	defer func() {
		if err != nil {
			p.cleanup()
			if master != nil {
				master.Close()
				master = nil
			}
		}
	}()
	lock, err := state.LockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	defer lock.Unlock()
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
	if st.InitStart, _, err = state.ProcStat(p.initPid); err != nil {
		return nil, nil, fmt.Errorf("init exited during create: %w", err)
	}
	if err := state.Save(dir, st, !p.configSaved); err != nil {
		return nil, nil, err
	}
	r.Trace.Mark("save-state")
	if opts.PidfdSocket != "" {
		if err := sendPidfd(opts.PidfdSocket, p.initPid, "standard"); err != nil {
			return nil, nil, err
		}
	}
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
	if err == nil {
		err = state.WriteFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644)
	}
	if err != nil {
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
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

// sendPidfd hands a pidfd of pid to the listener on socketPath, as runc's
// --pidfd-socket does: a supervisor can then signal and wait for the
// process without a pid that could be reused. The message's data says
// which process it is, in runc's words: "standard" for a container's init,
// "setns" for an exec'd process. pid is our unreaped child here, so it is
// still the process we started.
func sendPidfd(socketPath string, pid int, kind string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: %w", os.NewSyscallError("pidfd_open", err))
	}
	f := os.NewFile(uintptr(fd), kind)
	defer f.Close()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("--pidfd-socket: %w", err)
	}
	defer conn.Close()
	if err := console.Send(conn, f); err != nil {
		return fmt.Errorf("--pidfd-socket %s: %w", socketPath, err)
	}
	return nil
}
