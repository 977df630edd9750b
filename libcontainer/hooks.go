package libcontainer

import (
	"log/slog"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/hooks"
)

// hookState is the state JSON a hook reads on stdin (runtime-spec "State").
func hookState(id string, pid int, status Status, bundle string, cfg *configs.Config) []byte {
	s := specs.State{
		Version:     specs.Version,
		ID:          id,
		Status:      specs.ContainerState(status.String()),
		Pid:         pid,
		Bundle:      bundle,
		Annotations: cfg.Annotations,
	}
	b, _ := plainjson.Marshal(s)
	return b
}

// runHooks runs the hooks of each phase in turn, all with one state of
// container id, each phase by its rule (hooks.Phase.Fatal): the first
// failure of a fatal phase ends the run and is returned; a warning phase's
// failures go to log (nil drops them). The state is made only when there
// is a hook to read it.
func runHooks(id string, pid int, status Status, bundle string, cfg *configs.Config, log *slog.Logger, phases ...hooks.Phase) error {
	var state []byte
	warn := func(err error) {
		if log != nil {
			log.Warn(err.Error())
		}
	}
	for _, p := range phases {
		if len(p.Of(&cfg.Hooks)) == 0 {
			continue
		}
		if state == nil {
			state = hookState(id, pid, status, bundle, cfg)
		}
		h, dir := &cfg.Hooks, ""
		switch p {
		case hooks.CreateContainer:
			// They start in the rootfs, where runc's init runs them (it has
			// entered the rootfs to mount into it): hooks written for runc
			// use paths relative to it.
			dir = cfg.Rootfs
		case hooks.StartContainer:
			h = &configs.Hooks{StartContainer: startHooks(cfg)}
		}
		if err := p.RunIn(h, dir, state, warn); err != nil {
			return err
		}
	}
	return nil
}

// runHooks runs the container's hooks of phases with its state as status.
func (c *Container) runHooks(status Status, log *slog.Logger, phases ...hooks.Phase) error {
	return runHooks(c.ID, c.state.InitPid, status, c.state.Bundle, c.state.Config, log, phases...)
}

// startHooks gives the startContainer hooks without env of their own the
// process's, as runc 1.4 does (its init runs them with the process's
// environment already in place).
func startHooks(cfg *configs.Config) []configs.Hook {
	hs := slices.Clone(cfg.Hooks.StartContainer)
	for i := range hs {
		if len(hs[i].Env) == 0 {
			hs[i].Env = cfg.Process.Env
		}
	}
	return hs
}
