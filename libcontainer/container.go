// Package libcontainer owns the container lifecycle: the state directory, the
// parent side of the init protocol, and the init process's Go stage.
package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// Container is a handle on one container's state directory.
type Container struct {
	ID    string
	dir   string
	state *State
	trace *trace.Tracer // Root.Trace
	// seccompCache is Root.SeccompCache, for exec.
	seccompCache string
	// configRaw is config.json as last read or written: lock decodes it
	// again only when it changed.
	configRaw []byte
}

// Root is a state root (--root): one directory per container.
type Root struct {
	Path  string
	Log   *slog.Logger
	Trace *trace.Tracer // nil: no tracing
	// RootlessCgroups (--rootless): a cgroup the runtime may not make is
	// skipped, unless the config sets limits (rootless.go).
	RootlessCgroups bool
	// SeccompCache is the directory of compiled seccomp programs
	// (seccomp.Cache); "" compiles every profile afresh.
	SeccompCache string
}

func (r *Root) dir(id string) string { return filepath.Join(r.Path, id) }

// sealLayer returns the directory exeseal layers under the binary's own on
// kernels before 6.8 (exeseal.CloneSelf): the state root itself, so nothing
// is made for it and nothing is left in the root for tools that expect only
// container directories there. "" when the root is not a directory; the seal
// then falls back to a copy.
func sealLayer(root string) string {
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return ""
	}
	return root
}

// Load opens an existing container with its config. The id must already be
// validated.
func (r *Root) Load(id string) (*Container, error) {
	c, err := r.LoadState(id)
	if err != nil {
		return nil, err
	}
	if err := c.loadConfig(nil); err != nil {
		return nil, err
	}
	return c, nil
}

// loadConfig reads config.json; prev is the config already loaded, kept
// when the file is still what it was decoded from. A container whose
// creator was killed before it wrote one (state.json never recorded an
// init) has none: it gets an empty config, enough to delete it.
func (c *Container) loadConfig(prev *configs.Config) error {
	known := c.configRaw
	if prev == nil {
		known = nil
	}
	cfg, raw, err := state.LoadConfig(c.dir, known)
	if errors.Is(err, os.ErrNotExist) {
		if c.state.InitPid == 0 {
			cfg, err = &configs.Config{}, nil
		} else if _, serr := os.Stat(filepath.Join(c.dir, state.StateFile)); errors.Is(serr, os.ErrNotExist) {
			// A delete removed the container since we read its state.
			return fmt.Errorf("%w: %q", ErrNotExist, c.ID)
		}
	}
	if err != nil {
		return fmt.Errorf("container %q: %w", c.ID, err)
	}
	if cfg == nil {
		cfg = prev
	}
	c.state.Config, c.configRaw = cfg, raw
	return nil
}

// LoadState opens an existing container without its config: enough for
// its status, `state` and `list`.
func (r *Root) LoadState(id string) (*Container, error) {
	dir := r.dir(id)
	st, err := loadState(dir, id)
	if err != nil {
		return nil, err
	}
	return &Container{ID: id, dir: dir, state: st, trace: r.Trace, seccompCache: r.SeccompCache}, nil
}

// loadState reads state.json of the container dir. A dir without one is
// what a creator killed before its first write leaves (state.Create makes
// the dir, then writes it): a stopped container with nothing recorded, which
// delete removes. No dir: ErrNotExist.
func loadState(dir, id string) (*State, error) {
	st, err := state.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return &State{ID: id}, nil
		}
		return nil, fmt.Errorf("%w: %q", ErrNotExist, id)
	}
	return st, err
}

// List loads every container under the root, sorted by id. Directories
// whose state does not decode are skipped.
func (r *Root) List() ([]*Container, error) {
	ents, err := os.ReadDir(r.Path)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	loaded := make([]*Container, len(ids))
	forEach(len(ids), func(i int) {
		if c, err := r.LoadState(ids[i]); err == nil {
			loaded[i] = c
		}
	})
	out := slices.DeleteFunc(loaded, func(c *Container) bool { return c == nil })
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// OCIStates is OCIState of each container, in order.
func OCIStates(cs []*Container) []*OCIState {
	out := make([]*OCIState, len(cs))
	forEach(len(cs), func(i int) { out[i] = cs[i].OCIState() })
	return out
}

// forEach runs f for 0..n-1 on every CPU: list reads a state file and /proc
// for each container, 60 µs apiece, and a node holds hundreds.
func forEach(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/32+1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// State returns the saved state.
func (c *Container) State() *State { return c.state }

// Status derives the container's status from facts (State.Derive): a live
// init with the recorded start time is running, or created while exec.fifo
// exists, or paused while its cgroup is frozen.
func (c *Container) Status() Status {
	return c.state.Derive(c.dir, func() bool {
		m := c.cgroup()
		if m == nil {
			return false
		}
		frozen, err := m.IsFrozen()
		return err == nil && frozen
	})
}

// lock takes the container's lock (state.LockDir) and derives its status
// under it: what every call that changes a container starts with.
func (c *Container) lock() (*state.Lock, Status, error) {
	lock, err := state.LockDir(c.dir)
	if err != nil {
		return nil, Stopped, err
	}
	// What we loaded may predate the lock: a create that was still making
	// the container, a delete or start that ran meanwhile. Read it again.
	st, err := loadState(c.dir, c.ID)
	if err != nil {
		lock.Unlock()
		return nil, Stopped, err
	}
	prev := c.state.Config
	c.state = st
	if prev != nil {
		if err := c.loadConfig(prev); err != nil {
			lock.Unlock()
			return nil, Stopped, err
		}
	}
	c.trace.Mark("lock")
	return lock, c.Status(), nil
}

func (c *Container) cgroup() cgroups.Manager {
	if len(c.state.CgroupPaths) == 0 {
		return nil
	}
	m, err := loadCgroup(c.state)
	if err != nil {
		return nil
	}
	return m
}

// Signal sends sig to the init, or with all to every process in its cgroup.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	// Without a pid namespace of its own, the init's death does not take the
	// other processes with it: SIGKILL goes to the whole cgroup, as runc
	// 1.4 does, so that the container stops and delete can remove it.
	if all || (sig == unix.SIGKILL && !c.ownsPidNS()) {
		return c.signalAll(sig)
	}
	if !st.CanSignal() {
		return ErrNotRunning
	}
	if err := c.signalInit(sig); err != nil {
		return err
	}
	// A frozen task holds even SIGKILL until it is thawed (cgroup v1): thaw,
	// so `kill ID 9` of a paused container lands as it does with runc.
	if sig == unix.SIGKILL && st == Paused {
		if m := c.cgroup(); m != nil {
			return m.Thaw()
		}
	}
	return nil
}

// signalInit goes through a pidfd checked against the recorded start time, so a
// recycled pid never gets the signal.
func (c *Container) signalInit(sig unix.Signal) error {
	pidfd, err := unix.PidfdOpen(c.state.InitPid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	if !c.state.InitAlive() {
		return ErrNotRunning
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return nil
}

func (c *Container) signalAll(sig unix.Signal) error {
	m := c.cgroup()
	if m == nil {
		if !c.state.InitAlive() {
			return ErrNotRunning
		}
		return c.signalInit(sig)
	}
	// A frozen cgroup would hold the signal until thawed; SIGKILL must land now.
	if sig == unix.SIGKILL {
		defer m.Thaw()
	}
	pids, err := m.GetPids()
	if err != nil {
		return err
	}
	if len(pids) == 0 {
		return ErrNotRunning
	}
	for _, p := range pids {
		if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", p, err)
		}
	}
	return nil
}

// Delete removes a stopped (or created) container; with force it kills a
// running one first. The cgroup goes, the poststop hooks run, the state dir
// goes (teardown).
func (c *Container) Delete(force bool, log *slog.Logger) error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if !st.CanDelete() && !force {
		return refuse(ErrRunning, "cannot delete container %s that is not stopped: %s", c.ID, st)
	}
	deadline := time.Now().Add(5 * time.Second)
	if st != Stopped {
		c.killInit(deadline)
		c.trace.Mark("kill")
	}
	// A stopped container sharing a pid namespace may still have processes
	// in its cgroup, which would keep the cgroup busy: teardown kills them.
	return c.destroy(st != Stopped || !c.ownsPidNS(), deadline, log)
}

// ownsPidNS reports whether the container has a pid namespace of its own,
// whose processes the kernel kills with its init.
func (c *Container) ownsPidNS() bool {
	ns, ok := c.state.Config.Namespace(configs.NEWPID)
	return ok && ns.Path == ""
}

// killInit SIGKILLs everything in the container, the init also through its
// pidfd (a rootless container may have no cgroup), and waits for the init
// to go until deadline.
func (c *Container) killInit(deadline time.Time) {
	if m := c.cgroup(); m != nil {
		_ = c.signalAll(unix.SIGKILL)
	}
	_ = c.signalInit(unix.SIGKILL)
	c.waitInitGone(deadline)
}

// Config returns the container's normalized config.
func (c *Container) Config() *configs.Config { return c.state.Config }
