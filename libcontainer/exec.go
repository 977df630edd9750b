package libcontainer

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/manager"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// ExecOpts describe one `ocirun exec`.
type ExecOpts struct {
	// Process is what to run, complete: specconv.ExecProcess and
	// DecodeExecProcess give it the container's settings where it leaves
	// them out.
	Process       *configs.Process
	ConsoleSocket string
	PidFile       string
	PidfdSocket   string // receives a pidfd of the process (--pidfd-socket)
	PreserveFDs   int
	Detach        bool
	IgnorePaused  bool
	// SubCgroup puts the process in an existing sub-cgroup of the
	// container's: controller name → relative path ("" for every hierarchy).
	SubCgroup map[string]string
	Log       *slog.Logger
	Trace     *trace.Tracer
}

func (o *ExecOpts) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

// nsFiles maps namespace types to their /proc/<pid>/ns names.
var nsFiles = map[string]string{
	configs.NEWPID:    "pid",
	configs.NEWNET:    "net",
	configs.NEWIPC:    "ipc",
	configs.NEWUTS:    "uts",
	configs.NEWNS:     "mnt",
	configs.NEWCGROUP: "cgroup",
	configs.NEWUSER:   "user",
	configs.NEWTIME:   "time",
}

// Exec starts a new process in the running container: it joins every
// namespace of the container's init (through the C stage) and its cgroup, and
// gets the container's security settings with the given process. It returns
// the new process's host pid and, in the foreground with a terminal, the pty
// master.
func (c *Container) Exec(opts *ExecOpts) (pid int, master *os.File, err error) {
	switch st := c.Status(); st {
	case Running, Created:
	case Paused:
		if !opts.IgnorePaused {
			return 0, nil, ErrExecPaused
		}
	default:
		return 0, nil, refuse(ErrNotRunning, "cannot exec in a stopped container")
	}
	if opts.Process.Terminal && opts.ConsoleSocket == "" && opts.Detach {
		return 0, nil, errors.New("cannot allocate tty if ocirun will detach without setting console socket")
	}
	if !opts.Process.Terminal && opts.ConsoleSocket != "" {
		return 0, nil, errors.New("cannot use console socket if ocirun will not detach or allocate tty")
	}
	proc := *opts.Process
	lsm := detectLSM(&proc, "")
	if err := lsm.checkProcess(&proc); err != nil {
		return 0, nil, err
	}
	paths, err := cgroups.SubCgroupPaths(c.state.CgroupPaths, opts.SubCgroup)
	if err != nil {
		return 0, nil, err
	}
	if len(opts.SubCgroup) == 0 {
		paths = cgroups.ExecLeaf(paths, c.state.InitPid)
	}
	var cg cgroups.Manager = noCgroup{} // created rootless, without a cgroup
	if len(paths) > 0 {
		if cg, err = manager.Load(paths); err != nil {
			return 0, nil, err
		}
	}
	p := &execInit{
		initProcess: initProcess{
			id: c.ID, bundle: c.state.Bundle, annotations: c.state.Annotations, proc: &proc,
			consoleSocket: opts.ConsoleSocket, preserveFDs: opts.PreserveFDs,
			log: opts.log(), trace: opts.Trace, lsm: lsm, running: true,
			sealDir: sealLayer(filepath.Dir(c.dir)), seccompCache: c.seccompCache,
		},
		cg:           cg,
		joins:        newExecJoins(c.state.Config.Namespaces, c.state.InitPid),
		containerPid: c.state.InitPid,
	}
	if !c.state.NoNewKeyring {
		p.keyring = sessionKeyring(c.ID)
	}
	defer func() {
		if err != nil {
			p.kill()
			p.closeParentEnds()
			if master != nil {
				master.Close()
				master = nil
			}
		}
	}()
	if master, err = p.run(); err != nil {
		return 0, nil, err
	}
	if opts.PidfdSocket != "" {
		if err := sendPidfd(opts.PidfdSocket, p.initPid, "setns"); err != nil {
			return 0, nil, err
		}
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, p.initPid); err != nil {
			return 0, nil, err
		}
	}
	p.closeParentEnds()
	return p.initPid, master, nil
}
