//go:build !nocriu

package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/criu"
	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// RestoreOpts are restore's flags beyond the criu ones.
type RestoreOpts struct {
	criu.Opts
	Bundle        string
	ConsoleSocket string
	PidFile       string
}

// criuRootDir is where the rootfs is bound for criu's --root, which must be
// a mount point. The bind exists only in criu's own mount namespace; the
// directory is in the state dir while criu runs.
const criuRootDir = "criu-root"

// Restore makes container id from a checkpoint: state dir and cgroup as
// create makes them, then criu recreates the process tree in the rootfs.
// The restored init is our child (criu's rst_sibling), so a foreground
// caller can wait for it. On any error nothing is left: no state dir,
// cgroup, mount or process.
func (r *Root) Restore(id string, cfg *configs.Config, o *RestoreOpts) (c *Container, err error) {
	if cfg.Process.Terminal {
		return nil, errors.New("process.terminal: restore of a container with a terminal is not supported yet")
	}
	if o.ConsoleSocket != "" {
		return nil, errors.New("a console socket is only for a container with a terminal (process.terminal)")
	}
	// As create: a label or profile this host cannot apply is refused, not
	// dropped; criu would restore the processes unconfined.
	if err := detectLSM(&cfg.Process, cfg.MountLabel).checkContainer(cfg, r.Log); err != nil {
		return nil, err
	}
	links, err := criu.ReadDescriptors(o.ImagesDir)
	if err != nil {
		return nil, err
	}
	rs := &restorer{r: r, id: id, cfg: cfg, o: o, links: links}
	if c, err = r.newContainer(id, cfg, o.Bundle, rs, o.PidFile, ""); err != nil {
		return nil, err
	}
	// As after start: the process runs, so a failure is only a warning.
	_ = c.runHooks(Running, r.Log, hooks.Poststart)
	return c, nil
}

// restorer holds what a restore has made so far, for its cleanup.
type restorer struct {
	r       *Root
	id, dir string
	cfg     *configs.Config
	o       *RestoreOpts
	links   []string // the images' stdio descriptors (criu.ReadDescriptors)
	cg      cgroups.Manager
	rootDir string // criu-root, to remove
	pid     int
	placed  func(cgroups.Manager) error
}

// build restores the container's processes in its state dir dir: they run
// when it returns (newContainer).
func (rs *restorer) build(dir string, placed func(cgroups.Manager) error) (built, error) {
	rs.dir, rs.placed = dir, placed
	err := rs.run(rs.links)
	return built{op: "restore", pid: rs.pid, created: time.Now().UTC()}, err
}

func (rs *restorer) cgroup() cgroups.Manager { return rs.cg }

// commit has nothing to tell: the restored tree runs already.
func (rs *restorer) commit() error { return nil }

// abort kills and reaps the restored init, if criu got that far; the
// rest of the tree is in the cgroup, which teardown empties. The criu root
// mount went with criu's mount namespace.
func (rs *restorer) abort() {
	if rs.pid > 0 {
		_ = unix.Kill(rs.pid, unix.SIGKILL)
		_, _ = unix.Wait4(rs.pid, nil, 0, nil)
	}
	rs.removeRootDir()
}

func (rs *restorer) run(links []string) error {
	cg, err := newCgroup(rs.cfg, rs.id)
	if err != nil {
		return err
	}
	rs.cg = cg
	if err := rs.placed(cg); err != nil {
		return err
	}
	if err := cg.Apply(-1); err != nil {
		return err
	}
	var extra []*os.File
	var inherit []criu.InheritFd
	if ns, ok := rs.cfg.Namespace(configs.NEWNET); ok && ns.Path != "" {
		f, err := os.Open(ns.Path)
		if err != nil {
			return fmt.Errorf("linux.namespaces: network path: %w", err)
		}
		defer f.Close()
		extra = append(extra, f)
		// startCriu puts extra[i] at fd 4+i (3 is the rpc socket).
		inherit = append(inherit, criu.InheritFd{Key: criu.ExtNetNSKey, Fd: int32(4 + len(extra) - 1)})
	}
	// Our stdio become the restored init's where it had pipes or sockets:
	// the caller (a shim) has connected new ones for us.
	for i, l := range links {
		if i < 3 && criu.Inheritable(l) {
			inherit = append(inherit, criu.InheritFd{Key: l, Fd: int32(i)})
		}
	}
	var cgfd *os.File
	if f, err := cg.CgroupFD(); err == nil {
		cgfd = f
		defer f.Close()
	}
	cs, err := rs.startCriu(extra, cgfd)
	if err != nil {
		return err
	}
	defer cs.images.Close()
	defer cs.work.Close()
	sw, root := cs.criu, cs.root
	if cgfd == nil {
		if err := cg.Apply(sw.Pid()); err != nil {
			sw.Close()
			return err
		}
	}
	// Limits before the restore request, as runc: the restored tasks are
	// born in the cgroup and never run unlimited. Not before criu is in it:
	// a systemd unit exists only once it holds a process.
	if rs.cfg.Cgroups.Resources != nil {
		if err := cg.Set(rs.cfg.Cgroups.Resources); err != nil {
			sw.Close()
			return err
		}
	}
	opts := rs.o.RPC(int(cs.images.Fd()), int(cs.work.Fd()), "restore.log")
	opts.Root = new(root)
	opts.RstSibling = new(true)
	opts.InheritFd = inherit
	opts.External = criu.RestoreExternals(rs.cfg)
	opts.CgRoot = criu.CgroupRoots(restoreRoots(cg))
	if rs.o.LsmProfile != "" {
		opts.LsmProfile = new(rs.o.LsmProfile)
	}
	if rs.o.LsmMountContext != "" {
		opts.LsmMountContext = new(rs.o.LsmMountContext)
	}
	_, callErr := sw.Call(&criu.Req{Type: criu.ReqRestore, Opts: opts}, func(script string, pid int32) error {
		switch script {
		case "setup-namespaces":
			return rs.setupNamespaces(int(pid))
		case "post-restore":
			rs.pid = int(pid)
		}
		return nil
	})
	waitErr := sw.Close()
	logPath := filepath.Join(rs.o.WorkDir, "restore.log")
	if callErr != nil {
		return criu.LogError("restore", callErr, logPath)
	}
	if waitErr != nil {
		return criu.LogError("restore", waitErr, logPath)
	}
	if rs.pid <= 0 {
		return criu.LogError("restore", errors.New("no post-restore notification with the init's pid"), logPath)
	}
	rs.removeRootDir()
	return nil
}

// criuSession is a criu started for a restore, with the directories it
// was given and the path of its root.
type criuSession struct {
	criu         *criu.Swrk
	images, work *os.File
	root         string
	err          error
}

// startCriu starts criu in a mount namespace of its own, where the rootfs
// is bound at <state dir>/criu-root for criu's --root. The host never sees
// that bind (or criu's mounts under it), so a failed or killed restore
// leaves no mount behind: the namespace goes with criu.
func (rs *restorer) startCriu(extra []*os.File, cgfd *os.File) (*criuSession, error) {
	root := filepath.Join(rs.dir, criuRootDir)
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, err
	}
	rs.rootDir = root
	done := make(chan *criuSession, 1)
	go func() {
		// Never unlocked: this thread is in the new mount namespace, so it
		// must end with the goroutine instead of running other goroutines.
		// os/exec forks from the calling thread, which is how criu gets
		// this namespace.
		runtime.LockOSThread()
		cs := &criuSession{root: root}
		cs.err = rs.startCriuInMountNS(cs, extra, cgfd)
		done <- cs
	}()
	cs := <-done
	if cs.err != nil {
		if cs.images != nil {
			cs.images.Close()
			cs.work.Close()
		}
		return nil, cs.err
	}
	return cs, nil
}

func (rs *restorer) startCriuInMountNS(cs *criuSession, extra []*os.File, cgfd *os.File) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return os.NewSyscallError("unshare(CLONE_NEWNS)", err)
	}
	// A copied mount namespace keeps the host's shared peer groups: as a
	// slave it still receives the host's mount events but sends none back.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "make rslave", Path: "/", Err: err}
	}
	if err := unix.Mount(rs.cfg.Rootfs, cs.root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return &os.PathError{Op: "bind mount rootfs", Path: rs.cfg.Rootfs, Err: err}
	}
	// Opened here, not before: criu reopens them through /proc/<our pid>/fd
	// and mounts its cgroup yard under the work dir, which the kernel
	// refuses (EINVAL) on a mount of another namespace.
	images, work, err := rs.o.Dirs()
	if err != nil {
		return err
	}
	cs.images, cs.work = images, work
	cs.criu, err = criu.Start(rs.o.CriuPath, extra, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, cgfd)
	return err
}

func (rs *restorer) removeRootDir() {
	if rs.rootDir != "" {
		os.Remove(rs.rootDir)
		rs.rootDir = ""
	}
}

// setupNamespaces runs at criu's "setup-namespaces" notification: the
// restored tasks exist in their namespaces but do not run yet. It is where
// create would have set up the network and run the hooks that prepare the
// container from outside (runc runs prestart and createRuntime here too).
// createContainer and startContainer hooks are not run again: they act in
// the container's mount namespace, which criu restores as it was.
func (rs *restorer) setupNamespaces(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("no pid for the restored init (%d)", pid)
	}
	if ns, ok := rs.cfg.Namespace(configs.NEWNET); ok && ns.Path == "" && rs.o.EmptyNs&unix.CLONE_NEWNET != 0 {
		// criu made the namespace empty, with lo down: applications that
		// talked over 127.0.0.1 before the checkpoint expect it up.
		if err := loopbackUp(pid); err != nil {
			return err
		}
	}
	return runHooks(rs.id, pid, Created, rs.o.Bundle, rs.cfg, rs.r.Log, hooks.Prestart, hooks.CreateRuntime)
}

// loopbackUp sets lo up in the network namespace of pid.
func loopbackUp(pid int) error {
	nsPath := filepath.Join("/proc", strconv.Itoa(pid), "ns", "net")
	target, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- &os.PathError{Op: "setns", Path: nsPath, Err: err}
			return
		}
		errc <- sys.LinkUp("lo")
		// A thread that cannot go back stays locked, and so ends with
		// this goroutine instead of serving others in the wrong namespace.
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// restoreRoots is cgroups.RestoreRoots by controllers, for criu.
func restoreRoots(cg cgroups.Manager) map[string]string {
	out := map[string]string{}
	for _, r := range cgroups.RestoreRoots(cg.Paths()) {
		out[r.Controllers] = r.Path
	}
	return out
}
