package libcontainer

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

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
	p := &createInit{
		initProcess: initProcess{
			id: id, bundle: opts.Bundle, annotations: cfg.Annotations, proc: &cfg.Process,
			consoleSocket: opts.ConsoleSocket, preserveFDs: opts.PreserveFDs,
			log: r.Log, trace: r.Trace, lsm: lsm, sealDir: sealLayer(r.Path),
		},
		cfg: cfg, opts: opts, rootless: r.RootlessCgroups,
	}
	if c, err = r.newContainer(id, cfg, opts.Bundle, p, opts.PidFile, opts.PidfdSocket); err != nil {
		return nil, nil, err
	}
	p.closeParentEnds()
	return c, p.master, nil
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
