package libcontainer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/home"
	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/internal/proto"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
)

// createInit is the parent's side of a new container's init: its cgroup,
// exec.fifo and rootfs, up to init waiting on the fifo.
//
// The usual route is C (proto.CCreate): a thread of ours joins init's
// namespaces and builds the rootfs with the rootfs package while init, in
// C, waits for the plan of the rest. A container with a user namespace,
// which a multithreaded process cannot join, is built by the Go init
// (proto.GoCreate), as is every container with OCIRUN_GO_INIT=1.
type createInit struct {
	initProcess
	dir     string
	cfg     *configs.Config
	opts    *CreateOpts
	cg      cgroups.Manager
	created time.Time
	// master is the pty master for a caller in the foreground.
	master *os.File
	// config: config.json as written (while init made its namespaces).
	config []byte
	// rootless: a cgroup we may not make is skipped (Root.RootlessCgroups).
	rootless bool
	// placed records the cgroup before it is made (initBuilder.build).
	placed func(cgroups.Manager) error
}

// envGoInit forces the Go init for every container: a way to tell whether a
// problem is the C process stage's, and to test the Go init.
const envGoInit = "OCIRUN_GO_INIT"

func (p *createInit) route() proto.Route {
	_, userns := p.cfg.Namespace(configs.NEWUSER)
	if userns || os.Getenv(envGoInit) == "1" || os.Geteuid() != 0 {
		return proto.GoCreate
	}
	return proto.CCreate
}

func (p *createInit) cgroupPaths() map[string]string {
	if p.cg == nil {
		return nil
	}
	return p.cg.Paths()
}

// build makes a new container in its state dir dir, up to init waiting on
// exec.fifo (newContainer).
func (p *createInit) build(dir string, placed func(cgroups.Manager) error) (built, error) {
	p.dir, p.placed = dir, placed
	if p.cfg.NotifySocket != "" {
		if err := os.Mkdir(filepath.Join(dir, notifyDir), 0o755); err != nil {
			return built{}, err
		}
	}
	err := p.start()
	if err == nil {
		p.master, err = p.drive()
	}
	// What else start does: poststart hooks, the notify socket's relay.
	plan := !p.opts.StartsHere && len(p.cfg.Hooks.Poststart) == 0 && p.cfg.NotifySocket == ""
	return built{op: "create", pid: p.initPid, created: p.created, config: p.config, startPlan: plan, noNewKeyring: p.opts.NoNewKeyring}, err
}

func (p *createInit) cgroup() cgroups.Manager { return p.cg }

// abort ends a failed create's init and closes our ends of it.
func (p *createInit) abort() {
	p.kill()
	p.closeParentEnds()
	if p.master != nil {
		p.master.Close()
		p.master = nil
	}
}

// commit lets the init wait on exec.fifo, state.json written.
func (p *createInit) commit() error {
	if err := p.conn.Send(proto.Commit{}); err != nil {
		return p.initError(fmt.Errorf("send commit: %w", err))
	}
	return nil
}

// start prepares the cgroup, exec.fifo and sealed binary, and starts
// `ocirun init` from the sealed copy.
func (p *createInit) start() error {
	p.created = time.Now().UTC()
	cg, err := newCgroup(p.cfg, p.id)
	if err != nil {
		return err
	}
	p.cg = cg
	if err := p.placed(cg); err != nil {
		return err
	}
	if w, ok := cg.(interface{ SetWarn(func(string)) }); ok {
		w.SetWarn(func(msg string) { p.log.Warn("systemd cgroup: " + msg) })
	}
	// Only placement now; the limits come when the rootfs is built
	// (limitsAndHooks).
	if err := cg.Apply(-1); err != nil {
		if !p.rootless {
			return err
		}
		if p.cg, err = rootlessCgroup(p.cfg, cg, err, func(msg string) { p.log.Warn(msg) }); err != nil {
			p.cg = nil // nothing of it is left to clean up
			return err
		}
		cg = p.cg
	}
	p.trace.Mark("cgroup")
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("cgroup placed", "paths", cg.Paths())
	}
	fifoPath := filepath.Join(p.dir, state.FifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return &os.PathError{Op: "mkfifo", Path: fifoPath, Err: err}
	}
	rootUID, rootGID := hostID(p.cfg.UIDMappings, 0), hostID(p.cfg.GIDMappings, 0)
	if err := os.Chown(fifoPath, int(rootUID), int(rootGID)); err != nil {
		return err
	}
	// Past our umask: init may have switched to a non-root user by the time it
	// opens the fifo for writing.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return err
	}
	// Handed over as O_PATH: init reopens it for writing at the very end, so
	// nothing earlier in the container can open it.
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer fifo.Close()
	return p.spawn(cg, fifo, p.route())
}

// drive runs the parent's side of the route until init says ready.
func (p *createInit) drive() (*os.File, error) {
	boot := bootstrap(p.cfg.Namespaces, p.cfg.TimeOffsets)
	boot.IdmapDumpable = os.Geteuid() != 0
	if p.conn.Route() == proto.CCreate {
		boot.Process, boot.ProcContexts = nsexec.ProcessCreate, procMounts(p.cfg)
	}
	if err := p.sendBootstrap(boot); err != nil {
		return nil, err
	}
	if p.conn.Route() == proto.CCreate {
		return p.driveC()
	}
	if err := p.awaitChild(p.cfg); err != nil {
		return nil, err
	}
	bpf, err := p.seccompProgram()
	if err != nil {
		return nil, err
	}
	cfg := proto.Config{
		Config: p.cfg, ID: p.id, Bundle: p.bundle, NoNewKeyring: p.opts.NoNewKeyring,
		Trace: p.trace != nil, SeccompBPF: bpf, Cgroup: p.cgroupMount(), LSM: p.lsm.wire(),
	}
	// The maps of the user namespace are written now: an idmapped mount
	// without maps of its own can take them.
	idm, err := idmapMounts(p.cfg, fmt.Sprintf("/proc/%d/ns/user", p.initPid))
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range p.cfg.Mounts {
		if f := idm[i]; f != nil {
			defer f.Close()
			cfg.IDMapped = append(cfg.IDMapped, i)
			fds = append(fds, int(f.Fd()))
		}
	}
	if err := p.conn.Send(cfg, fds...); err != nil {
		return nil, p.initError(err)
	}
	p.log.Debug("config sent to the Go init")
	if _, _, err := p.conn.Recv(); err != nil { // hooks-please: the rootfs is built
		return nil, p.recvError(err)
	}
	if err := p.limitsAndHooks(); err != nil {
		return nil, err
	}
	if err := p.conn.Send(proto.HooksDone{}); err != nil {
		return nil, p.initError(err)
	}
	return p.finish(nil)
}

// driveC builds the rootfs from here and sends the C init its plan. The
// plan, the cgroup facts and config.json need nothing from init: they are
// made while init creates its namespaces.
func (p *createInit) driveC() (*os.File, error) {
	bpf, err := p.seccompProgram()
	if err != nil {
		return nil, err
	}
	plan, err := p.compilePlan(bpf)
	if err != nil {
		return nil, err
	}
	if err := p.planCreate(plan); err != nil {
		return nil, err
	}
	cgm := p.cgroupMount()
	if p.config, err = state.SaveConfig(p.dir, p.cfg); err != nil {
		return nil, err
	}
	p.trace.Mark("plan")
	if err := p.awaitChild(p.cfg); err != nil {
		return nil, err
	}
	_, ctxs, err := p.conn.Recv() // procfs: contexts of init's pid namespace
	if err != nil {
		return nil, p.recvError(err)
	}
	// No user namespace on this route: only mounts with maps of their own.
	idm, err := idmapMounts(p.cfg, "")
	if err != nil {
		closeFiles(ctxs)
		return nil, err
	}
	b, err := p.buildRootfs(rootfs.Options{ProcContexts: ctxs, IDMapped: idm}, cgm)
	closeFiles(ctxs)
	for _, f := range idm {
		f.Close() // those Prepare did not take: it failed first
	}
	var fds []int
	if b.slave != nil {
		defer b.slave.Close()
		fds = append(fds, int(b.slave.Fd()))
	}
	if b.root != nil {
		defer b.root.Close()
		fds = append(fds, int(b.root.Fd()))
	}
	if err != nil {
		return b.master, err
	}
	if b.home != "" {
		plan.Env = home.Set(plan.Env, b.home)
	}
	frame, err := plan.Encode()
	if err != nil {
		return b.master, err
	}
	if err := p.conn.Send(proto.Plan(frame), fds...); err != nil {
		return b.master, p.initError(err)
	}
	p.log.Debug("rootfs built, plan sent", "bytes", len(frame))
	return p.finish(b.master)
}

type builtRootfs struct {
	master, slave, root *os.File
	// home is $HOME from the container's /etc/passwd, when the process's
	// environment has none.
	home string
}

// buildRootfs makes the container's filesystem from a thread in init's
// namespaces, as the Go init does from inside (buildContainer): mounts, the
// cgroup limits and the hooks' turn (in our own namespaces), pivot_root, the
// console, hostname, sysctls, masked and read-only paths.
func (p *createInit) buildRootfs(opts rootfs.Options, cgm *rootfs.CgroupMount) (b builtRootfs, err error) {
	var flags int
	for _, ns := range p.cfg.Namespaces {
		flags |= int(nsFlags[ns.Type])
	}
	t, err := startNSThread(p.initPid, flags)
	if err != nil {
		return b, err
	}
	defer t.Close()
	if p.lsm.SELinux {
		opts.MountLabel = p.cfg.MountLabel
	}
	// The limits go on while the thread mounts: they bind the tasks in the
	// container's cgroup, and init, the only one, waits for its plan; the
	// thread doing the work is ours, in our cgroup.
	prepared := t.Start(func() error { return rootfs.Prepare(p.cfg, cgm, opts) })
	lerr := p.setLimits()
	if err := prepared(); err != nil {
		return b, err
	}
	if lerr != nil {
		return b, lerr
	}
	p.trace.MarkIn("mounts", "init")
	if err := p.createHooks(); err != nil {
		return b, err
	}
	p.trace.MarkIn("hooks", "init")
	err = t.Do(func() error {
		if err := rootfs.Pivot(p.cfg); err != nil {
			return err
		}
		p.trace.MarkIn("pivot", "init")
		if home.Needed(p.cfg.Process.Env) {
			b.home = p.lookupHome("/", p.cfg.Process.UID)
		}
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

// checkCgroupFit refuses a pre-existing cgroup that holds processes or is
// frozen, with runc's words. The runtime-spec lets a runtime check that the
// cgroup is "fit for purpose" and names these two cases: a container sharing
// another's cgroup would be killed with it, and an init born frozen would
// hang create.
func checkCgroupFit(cg cgroups.Manager) error {
	if !cg.Exists() {
		return nil
	}
	pids, err := cg.GetPids()
	// A cgroup being removed meanwhile is an empty one.
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("unable to get cgroup PIDs: %w", err)
	}
	if len(pids) != 0 {
		return fmt.Errorf("container's cgroup is not empty: %d process(es) found", len(pids))
	}
	if !cgroups.IsV2() && cg.Path("freezer") == "" {
		return nil
	}
	frozen, err := cg.IsFrozen()
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("unable to get cgroup freezer state: %w", err)
	}
	if frozen {
		return errors.New("container's cgroup unexpectedly frozen")
	}
	return nil
}

// setLimits puts the cgroup limits on before the hooks (which may adjust
// the cgroup) and before init turns into the container's process, as runc
// does. Not before init's namespace stage: a tight memory, pids or cpu limit
// must not starve the runtime's own work in the cgroup.
func (p *createInit) setLimits() error {
	if r := p.cfg.Cgroups.Resources; r != nil {
		if p.rootless {
			r = withoutDevices(r)
		}
		if err := p.cg.Set(r); err != nil {
			return err
		}
		p.trace.Mark("cgroup-limits")
	}
	return nil
}

// limitsAndHooks is the Go init's turn once its rootfs is built.
func (p *createInit) limitsAndHooks() error {
	if err := p.setLimits(); err != nil {
		return err
	}
	return p.createHooks()
}

// createHooks runs prestart, createRuntime and, like runc, createContainer
// here too: in the runtime's namespaces, but in the rootfs, where runc's
// init runs them (runHooks).
func (p *createInit) createHooks() error {
	return runHooks(p.id, p.initPid, Created, p.bundle, p.cfg, p.log, hooks.Prestart, hooks.CreateRuntime, hooks.CreateContainer)
}

func (p *createInit) cgroupMount() *rootfs.CgroupMount {
	return &rootfs.CgroupMount{
		V2:          cgroups.IsV2(),
		NSCgroup:    hasNewNS(p.cfg, configs.NEWCGROUP),
		Paths:       p.cgroupPaths(),
		Controllers: cgroups.Controllers(),
	}
}

// procMounts counts the config's proc mounts: each needs a procfs context
// from init, which alone is in the container's pid namespace.
func procMounts(cfg *configs.Config) uint32 {
	var n uint32
	for i := range cfg.Mounts {
		if cfg.Mounts[i].Device == "proc" && !cfg.Mounts[i].IsBind() {
			n++
		}
	}
	return n
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

// bootstrap is what the namespace stage does with namespaces: join those
// with a path, create the others, write the time offsets of a new time
// namespace, and fork for a pid or time namespace.
func bootstrap(namespaces []configs.Namespace, offsets map[string]configs.TimeOffset) nsexec.Bootstrap {
	var b nsexec.Bootstrap
	for _, ns := range namespaces {
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
	if b.CloneFlags&unix.CLONE_NEWTIME != 0 {
		for _, clock := range []string{"monotonic", "boottime"} {
			if off, ok := offsets[clock]; ok {
				b.TimeOffsets += fmt.Sprintf("%s %d %d\n", clock, off.Secs, off.Nanosecs)
			}
		}
	}
	return b
}

// hasNewNS reports whether the config creates a namespace of type t (one
// with a path is joined).
func hasNewNS(cfg *configs.Config, t string) bool {
	ns, ok := cfg.Namespace(t)
	return ok && ns.Path == ""
}
