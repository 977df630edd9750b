package libcontainer

import (
	"os"

	"github.com/ocirun/ocirun/libcontainer/configs"
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
	// StartsHere: the caller starts the container itself (run), so no
	// separate `start` will read a start.plan.
	StartsHere bool
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
			log: r.Log, trace: r.Trace, lsm: lsm, sealDir: sealLayer(r.Path), seccompCache: r.SeccompCache,
		},
		cfg: cfg, opts: opts, rootless: r.RootlessCgroups,
	}
	if c, err = r.newContainer(id, cfg, opts.Bundle, p, opts.PidFile, opts.PidfdSocket); err != nil {
		return nil, nil, err
	}
	p.closeParentEnds()
	return c, p.master, nil
}
