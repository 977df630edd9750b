package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/manager"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// How a container begins (newContainer: create, restore) and ends
// (teardown: delete, checkpoint, and a create or restore that failed).

// initBuilder starts the init of a new container in its state dir:
// createInit (parent_create.go) and restorer (restore.go).
type initBuilder interface {
	// build starts the init in dir and brings it as far as the call goes
	// (create: waiting on exec.fifo; restore: running). It calls placed
	// with the container's cgroup once it is decided, before anything of
	// it is made, so that state.json names it if we are killed meanwhile.
	build(dir string, placed func(cgroups.Manager) error) (built, error)
	// cgroup is the container's cgroup so far: what teardown removes after
	// a failure. nil when none was made, or the one found is someone
	// else's (checkCgroupFit).
	cgroup() cgroups.Manager
	// abort kills and reaps what build started, before teardown.
	abort()
	// commit tells the init that state.json records it (proto's "commit"):
	// until then, our death makes it exit.
	commit() error
}

// built is what build tells about the new init.
type built struct {
	op      string // "create", "restore": for the errors
	pid     int
	created time.Time
	config  []byte // config.json as written already; nil: not yet
	// startPlan: a later `start` only has to open exec.fifo (state.StartPlan).
	startPlan bool
	// noNewKeyring: the init kept its caller's session keyring
	// (--no-new-keyring), and so do the processes exec starts.
	noNewKeyring bool
}

// newContainer is create's and restore's start and end around b: it makes
// the state dir of container id and holds its lock (state.Create) while b
// starts the init in it; then state.json records the init, with its start
// time so that a recycled pid is never taken for it, and the cgroup; the
// init's pid goes to pidfdSocket and pidFile. On any error b.abort and
// teardown leave nothing: no process, cgroup, unit or state dir.
func (r *Root) newContainer(id string, cfg *configs.Config, bundle string, b initBuilder, pidFile, pidfdSocket string) (c *Container, err error) {
	dir, lock, err := state.Create(r.Path, id)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	op := "create"
	defer func() {
		if err != nil {
			b.abort()
			if terr := teardown(b.cgroup(), dir, true, time.Now().Add(2*time.Second), nil); terr != nil && r.Log != nil {
				r.Log.Warn(op+" cleanup", "error", terr)
			}
		}
	}()
	// state.json is written first with us as its creator, and again with
	// the cgroup before that is made: a later delete finds whatever we
	// leave if we are killed (State.CreatorPid).
	st := &State{
		ID:          id,
		Bundle:      bundle,
		Rootfs:      cfg.Rootfs,
		Annotations: cfg.Annotations,
		Created:     time.Now().UTC(),
		Config:      cfg,
	}
	if err := st.RecordCreator(); err != nil {
		return nil, err
	}
	if err := state.Save(dir, st); err != nil {
		return nil, err
	}
	r.Trace.Mark("state-dir")
	made, err := b.build(dir, func(cg cgroups.Manager) error {
		st.CgroupPaths, st.SystemdUnit = cg.Paths(), cgroups.SystemdUnit(cg)
		return state.Save(dir, st)
	})
	if made.op != "" {
		op = made.op
	}
	if err != nil {
		return nil, err
	}
	st.Created = made.created
	st.NoNewKeyring = made.noNewKeyring
	st.CreatorPid, st.CreatorStart = 0, 0
	if cg := b.cgroup(); cg != nil {
		st.CgroupPaths, st.SystemdUnit = cg.Paths(), cgroups.SystemdUnit(cg)
	} else {
		st.CgroupPaths, st.SystemdUnit = nil, ""
	}
	if err := st.RecordInit(made.pid); err != nil {
		return nil, fmt.Errorf("init exited during %s: %w", op, err)
	}
	raw := made.config
	if raw == nil {
		if raw, err = state.SaveConfig(dir, cfg); err != nil {
			return nil, err
		}
	}
	if err := state.Save(dir, st); err != nil {
		return nil, err
	}
	if made.startPlan {
		if err := state.SaveStartPlan(dir, st); err != nil {
			return nil, err
		}
	}
	r.Trace.Mark("save-state")
	if pidfdSocket != "" {
		if err := sendPidfd(pidfdSocket, made.pid, "standard"); err != nil {
			return nil, err
		}
	}
	if pidFile != "" {
		if err := writePidFile(pidFile, made.pid); err != nil {
			return nil, err
		}
	}
	if err := b.commit(); err != nil {
		return nil, err
	}
	r.Trace.Mark("commit")
	return &Container{ID: id, dir: dir, state: st, trace: r.Trace, seccompCache: r.SeccompCache, configRaw: raw}, nil
}

// newCgroup makes the manager of a new container's cgroup, nothing on the
// host yet, and refuses a cgroup already there that is not fit for it
// (checkCgroupFit): that one is someone else's, and nil is returned so
// that no cleanup removes it.
func newCgroup(cfg *configs.Config, id string) (cgroups.Manager, error) {
	cg, err := manager.New(&cfg.Cgroups, id)
	if err != nil {
		return nil, err
	}
	if err := checkCgroupFit(cg); err != nil {
		return nil, err
	}
	return cg, nil
}

// teardown takes a container apart in the order every end needs. With
// kill, what is left in its cgroup is killed until the cgroup is empty or
// deadline passes (rmdir fails while tasks remain; killCgroup). Then the
// cgroup goes, and with it a systemd unit; then poststop (nil: none) runs,
// and the state dir goes. cg is nil when the container has no cgroup.
func teardown(cg cgroups.Manager, dir string, kill bool, deadline time.Time, poststop func()) error {
	var errs []error
	if cg != nil {
		if kill {
			killCgroup(cg, deadline)
		}
		if err := cg.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if poststop != nil {
		poststop()
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killCgroup SIGKILLs every process in cg, again while any is left (one
// may have forked meanwhile), until none is or deadline passes. A frozen
// cgroup is thawed: a frozen task holds even SIGKILL (cgroup v1).
func killCgroup(cg cgroups.Manager, deadline time.Time) {
	thawed := false
	for {
		pids, err := cg.GetPids()
		if err != nil || len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		if !thawed {
			if frozen, err := cg.IsFrozen(); err == nil && frozen {
				_ = cg.Thaw()
			}
			thawed = true
		}
		time.Sleep(time.Millisecond)
	}
}

// destroy is teardown of this container, with its poststop hooks; kill as
// teardown's.
func (c *Container) destroy(kill bool, deadline time.Time, log *slog.Logger) error {
	return teardown(c.cgroup(), c.dir, kill, deadline, func() {
		c.trace.Mark("cgroup-removed")
		// A poststop failure is only a warning: the container is gone anyway.
		_ = c.runHooks(Stopped, log, hooks.Poststop)
	})
}

// waitInitGone waits until the recorded init is gone or deadline passes,
// and reports whether it is gone.
func (c *Container) waitInitGone(deadline time.Time) bool {
	for c.state.InitAlive() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return !c.state.InitAlive()
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
