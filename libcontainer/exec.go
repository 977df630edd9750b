package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// ExecOpts describe one `ocirun exec`.
type ExecOpts struct {
	Process       *configs.Process
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	Detach        bool
	IgnorePaused  bool
	Log           *slog.Logger
	Trace         *trace.Tracer
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
			return 0, nil, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	default:
		return 0, nil, errors.New("cannot exec in a stopped container")
	}
	if opts.Process.Terminal && opts.ConsoleSocket == "" && opts.Detach {
		return 0, nil, errors.New("cannot allocate tty if ocirun will detach without setting console socket")
	}
	if !opts.Process.Terminal && opts.ConsoleSocket != "" {
		return 0, nil, errors.New("cannot use console socket if ocirun will not detach or allocate tty")
	}
	cfg := *c.state.Config
	proc := *opts.Process
	if proc.Seccomp == nil {
		proc.Seccomp = cfg.Process.Seccomp
	}
	cfg.Process = proc
	// Join the init's namespaces, whether the container created them or
	// joined them itself; the time and user namespaces included.
	cfg.Namespaces = nil
	for _, ns := range c.state.Config.Namespaces {
		cfg.Namespaces = append(cfg.Namespaces, configs.Namespace{
			Type: ns.Type,
			Path: fmt.Sprintf("/proc/%d/ns/%s", c.state.InitPid, nsFiles[ns.Type]),
		})
	}
	cg, err := cgroups.Load(c.state.CgroupPaths)
	if err != nil {
		return 0, nil, err
	}
	p := &initProcess{
		id: c.ID, dir: c.dir, cfg: &cfg, log: opts.log(), exec: true, cg: cg, trace: opts.Trace,
		opts: &CreateOpts{
			Bundle:        c.state.Bundle,
			ConsoleSocket: opts.ConsoleSocket,
			PidFile:       opts.PidFile,
			PreserveFDs:   opts.PreserveFDs,
			Foreground:    !opts.Detach,
		},
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
	if err := p.spawn(nil); err != nil {
		return 0, nil, err
	}
	if master, err = p.drive(); err != nil {
		return 0, nil, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, p.initPid); err != nil {
			return 0, nil, err
		}
	}
	p.closeParentEnds()
	return p.initPid, master, nil
}
