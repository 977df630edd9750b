package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// RestoreOpts are restore's flags beyond the criu ones.
type RestoreOpts struct {
	CriuOpts
	Bundle        string
	ConsoleSocket string
	PidFile       string
}

// criuRootDir is where the rootfs is bound for criu's --root, which must be
// a mount point; it lives in the state dir only while criu runs.
const criuRootDir = "criu-root"

// Restore makes container id from a checkpoint: state dir and cgroup as
// create makes them, then criu recreates the process tree in the rootfs.
// The restored init is our child (criu's rst_sibling), so a foreground
// caller can wait for it. On any error nothing is left: no state dir,
// cgroup, mount or process.
func (r *Root) Restore(id string, cfg *configs.Config, o *RestoreOpts) (c *Container, err error) {
	if err := o.check(true); err != nil {
		return nil, err
	}
	if o.PreDump || o.LeaveRunning || o.ParentImage != "" {
		return nil, errors.New("restore: --pre-dump, --leave-running and --parent-path are checkpoint flags")
	}
	if cfg.Process.Terminal {
		return nil, errors.New("process.terminal: restore of a container with a terminal is not supported yet")
	}
	if o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket: only for a container with a terminal (process.terminal)")
	}
	links, err := readDescriptors(o.ImagesDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Path, 0o700); err != nil {
		return nil, err
	}
	dir := r.dir(id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id exists: %s", id)
		}
		return nil, err
	}
	rs := &restorer{r: r, id: id, dir: dir, cfg: cfg, o: o}
	defer func() {
		if err != nil {
			rs.cleanup()
		}
	}()
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := rs.run(links); err != nil {
		return nil, err
	}
	st := &State{
		ID:          id,
		InitPid:     rs.pid,
		Bundle:      o.Bundle,
		Rootfs:      cfg.Rootfs,
		Annotations: cfg.Annotations,
		Created:     time.Now().UTC(),
		CgroupPaths: rs.cg.Paths(),
		SystemdUnit: cgroups.SystemdUnit(rs.cg),
		Config:      cfg,
	}
	if st.InitStart, _, err = procStat(rs.pid); err != nil {
		return nil, fmt.Errorf("restored init %d exited: %w", rs.pid, err)
	}
	if err := saveState(dir, st, true); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, rs.pid); err != nil {
			return nil, err
		}
	}
	return &Container{ID: id, dir: dir, state: st}, nil
}

// restorer holds what a restore has made so far, for its cleanup.
type restorer struct {
	r       *Root
	id, dir string
	cfg     *configs.Config
	o       *RestoreOpts
	cg      cgroups.Manager
	mounted string
	pid     int
}

func (rs *restorer) run(links []string) error {
	cg, err := cgroups.New(&rs.cfg.Cgroups, rs.id)
	if err != nil {
		return err
	}
	if err := cg.Apply(-1); err != nil {
		return err
	}
	rs.cg = cg
	images, work, err := rs.o.criuDirs()
	if err != nil {
		return err
	}
	defer images.Close()
	defer work.Close()
	root, err := rs.mountRoot()
	if err != nil {
		return err
	}
	var extra []*os.File
	var inherit []*rpc.InheritFd
	if ns, ok := rs.cfg.Namespace(configs.NEWNET); ok && ns.Path != "" {
		f, err := os.Open(ns.Path)
		if err != nil {
			return fmt.Errorf("linux.namespaces: network path: %w", err)
		}
		defer f.Close()
		extra = append(extra, f)
		// startCriu puts extra[i] at fd 4+i (3 is the rpc socket).
		inherit = append(inherit, &rpc.InheritFd{Key: proto.String(extNetNSKey), Fd: proto.Int32(int32(4 + len(extra) - 1))})
	}
	// Our stdio become the restored init's where it had pipes or sockets:
	// the caller (a shim) has connected new ones for us.
	for i, l := range links {
		if i < 3 && inheritable(l) {
			inherit = append(inherit, &rpc.InheritFd{Key: proto.String(l), Fd: proto.Int32(int32(i))})
		}
	}
	var cgfd *os.File
	if f, err := cg.CgroupFD(); err == nil {
		cgfd = f
		defer f.Close()
	}
	criu, err := startCriu(rs.o.CriuPath, extra, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, cgfd)
	if err != nil {
		return err
	}
	if cgfd == nil {
		if err := cg.Apply(criu.cmd.Process.Pid); err != nil {
			criu.close()
			return err
		}
	}
	// Limits before the restore request, as runc: the restored tasks are
	// born in the cgroup and never run unlimited. Not before criu is in it:
	// a systemd unit exists only once it holds a process.
	if rs.cfg.Cgroups.Resources != nil {
		if err := cg.Set(rs.cfg.Cgroups.Resources); err != nil {
			criu.close()
			return err
		}
	}
	opts := rs.o.baseRPCOpts(int(images.Fd()), int(work.Fd()), "restore.log")
	opts.Root = proto.String(root)
	opts.RstSibling = proto.Bool(true)
	opts.InheritFd = inherit
	opts.External = restoreExternals(rs.cfg)
	opts.CgRoot = cgroupRoots(cg)
	if rs.o.LsmProfile != "" {
		opts.LsmProfile = proto.String(rs.o.LsmProfile)
	}
	if rs.o.LsmMountContext != "" {
		opts.LsmMountContext = proto.String(rs.o.LsmMountContext)
	}
	_, callErr := criu.call(&rpc.CriuReq{Type: rpc.CriuReqType_RESTORE.Enum(), Opts: opts}, func(script string, pid int32) error {
		if script == "post-restore" {
			rs.pid = int(pid)
		}
		return nil
	})
	waitErr := criu.close()
	logPath := filepath.Join(rs.o.WorkDir, "restore.log")
	if callErr != nil {
		return criuLogError("restore", callErr, logPath)
	}
	if waitErr != nil {
		return criuLogError("restore", waitErr, logPath)
	}
	if rs.pid <= 0 {
		return criuLogError("restore", errors.New("no post-restore notification with the init's pid"), logPath)
	}
	rs.unmountRoot()
	return nil
}

// mountRoot binds the rootfs onto <state dir>/criu-root, private, so that
// criu's mounts under it do not propagate back to the host.
func (rs *restorer) mountRoot() (string, error) {
	root := filepath.Join(rs.dir, criuRootDir)
	if err := os.Mkdir(root, 0o755); err != nil {
		return "", err
	}
	if err := unix.Mount(rs.cfg.Rootfs, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", &os.PathError{Op: "bind mount rootfs", Path: rs.cfg.Rootfs, Err: err}
	}
	rs.mounted = root
	if err := unix.Mount("", root, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return "", &os.PathError{Op: "make private", Path: root, Err: err}
	}
	return root, nil
}

func (rs *restorer) unmountRoot() {
	if rs.mounted == "" {
		return
	}
	if err := unix.Unmount(rs.mounted, unix.MNT_DETACH); err != nil && rs.r.Log != nil {
		rs.r.Log.Warn("restore: unmount criu root", "path", rs.mounted, "error", err)
	}
	os.Remove(rs.mounted)
	rs.mounted = ""
}

// cleanup undoes a failed restore: the restored tasks, the cgroup, the
// criu root mount and the state dir.
func (rs *restorer) cleanup() {
	if rs.pid > 0 {
		_ = unix.Kill(rs.pid, unix.SIGKILL)
		_, _ = unix.Wait4(rs.pid, nil, 0, nil)
	}
	if rs.cg != nil {
		deadline := time.Now().Add(2 * time.Second)
		for {
			pids, err := rs.cg.GetPids()
			if err != nil || len(pids) == 0 || time.Now().After(deadline) {
				break
			}
			for _, p := range pids {
				_ = unix.Kill(p, unix.SIGKILL)
			}
			time.Sleep(time.Millisecond)
		}
		if err := rs.cg.Destroy(); err != nil && rs.r.Log != nil {
			rs.r.Log.Warn("restore cleanup: remove cgroup", "error", err)
		}
	}
	rs.unmountRoot()
	os.RemoveAll(rs.dir)
}

// restoreExternals maps the names dumpExternals recorded to host paths.
func restoreExternals(cfg *configs.Config) []string {
	var ext []string
	for _, m := range cfg.Mounts {
		if m.IsBind() {
			ext = append(ext, "mnt["+m.Destination+"]:"+m.Source)
		}
	}
	// Unused names are ignored by criu: masked directories were dumped as
	// their tmpfs, only masked files were recorded.
	for _, p := range cfg.MaskedPaths {
		ext = append(ext, "mnt["+p+"]:/dev/null")
	}
	return ext
}

// cgroupRoots tells criu, on cgroup v1, where each hierarchy's dumped root
// cgroup now is: the new container's. On v2 criu itself was born in that
// cgroup, which is the root it restores relative to.
func cgroupRoots(cg cgroups.Manager) []*rpc.CgroupRoot {
	if cgroups.IsV2() {
		return nil
	}
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return nil
	}
	paths := cg.Paths()
	var roots []*rpc.CgroupRoot
	for _, h := range hs {
		dir, ok := paths[h.Mountpoint]
		if !ok || len(h.Controllers) == 0 {
			continue
		}
		rel := strings.TrimPrefix(dir, h.Mountpoint)
		roots = append(roots, &rpc.CgroupRoot{
			Ctrl: proto.String(strings.Join(h.Controllers, ",")),
			Path: proto.String(filepath.Join(h.Root, rel)),
		})
	}
	return roots
}
