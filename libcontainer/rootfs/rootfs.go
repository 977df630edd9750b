// Package rootfs builds the container's filesystem view from inside its new mount
// namespace: mounts through in-root fds, /dev, propagation, pivot_root, masked and read-only paths.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// CgroupMount is what the runtime tells Prepare about cgroups, for "cgroup" mounts.
type CgroupMount struct {
	V2       bool
	NSCgroup bool // the container has its own cgroup namespace
	// Paths maps a host hierarchy mountpoint (/sys/fs/cgroup/cpu,cpuacct) to the
	// host path of the container's cgroup directory in it.
	Paths map[string]string
	// Controllers per v1 mountpoint, used as mount options inside a cgroup namespace
	// ("cpu", "cpuacct", "name=systemd").
	Controllers map[string][]string
}

// preparer carries the state of one Prepare call.
type preparer struct {
	cfg      *configs.Config
	cg       *CgroupMount
	rootPath string   // host path of the rootfs, symlinks resolved
	root     *os.File // O_PATH handle of the rootfs mount every lookup starts from
	// devMnt is the /dev tmpfs; a read-only /dev is made read-only only once its
	// nodes exist, as runc does in finalizeRootfs.
	devMnt *os.File
	devRO  bool
	// procCtx are fsopen("proc") contexts opened in the container's pid
	// namespace, for a caller that is not in it (see Prepare).
	procCtx []*os.File
	// idmapped are the runtime's idmapped clones by mount index; cur is
	// the index of the mount being made.
	idmapped   map[int]*os.File
	cur        int
	mountLabel string
	fds        *sys.FdPaths // where our handles really are (CheckInside)
}

// Options are what Prepare needs beyond the config: the host's decisions.
type Options struct {
	// MountLabel is linux.mountLabel where the host enforces SELinux ("" for
	// none): the container's new filesystems get it as their context.
	MountLabel string
	// ProcContexts are one fsopen("proc") context per proc mount, opened in
	// the container's pid namespace, for a caller that is not in it: procfs
	// shows the pid namespace of whoever opened the context.
	ProcContexts []*os.File
	// IDMapped are the idmapped mounts of the config by index, detached
	// clones of their sources with the mapping set: only the host's root
	// may set one, and the container's init, in its user namespace, is not
	// it. Prepare attaches each (and closes it).
	IDMapped map[int]*os.File
}

// Prepare sets up the mounts and /dev of cfg.Rootfs. It must run in the
// container's own mount namespace, before Pivot.
func Prepare(cfg *configs.Config, cg *CgroupMount, opts Options) error {
	rootPath, err := filepath.EvalSymlinks(cfg.Rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %q: %w", cfg.Rootfs, err)
	}
	// An unbindable "/" would refuse the bind of the rootfs onto itself and
	// every bind of a host path: linux.rootfsPropagation unbindable is applied
	// by Finalize, once the last bind is made.
	prop := unix.MS_SLAVE | unix.MS_REC
	if cfg.RootPropagation != 0 && cfg.RootPropagation&unix.MS_UNBINDABLE == 0 {
		prop = cfg.RootPropagation
	}
	// Only this mount namespace is changed: we never run in the host's.
	if err := sys.Mount("", "/", "", uintptr(prop), ""); err != nil {
		return fmt.Errorf("rootPropagation 0x%x: %w", prop, err)
	}
	if err := parentMountPrivate(rootPath); err != nil {
		return err
	}
	if err := bindSelf(rootPath, inUserNS()); err != nil {
		return err
	}
	root, err := os.OpenFile(rootPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	fds, err := sys.OpenFdPaths()
	if err != nil {
		root.Close()
		return err
	}
	p := &preparer{cfg: cfg, cg: cg, rootPath: rootPath, root: root, procCtx: opts.ProcContexts,
		idmapped: opts.IDMapped, mountLabel: opts.MountLabel, fds: fds}
	defer p.close()

	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		p.cur = i
		if err := p.mount(m); err != nil {
			var onRoot *onRootError
			if errors.As(err, &onRoot) {
				return fmt.Errorf("%w: mounts[%d].destination %q resolves to the container's root", onRoot, i, m.Destination)
			}
			var re *runcError
			if errors.As(err, &re) {
				// runc's words first: scripts match them.
				return fmt.Errorf("%s: mounts[%d] (%s on %q): %s", re.words, i, m.Device, m.Destination, re.detail)
			}
			return fmt.Errorf("mounts[%d] (%s on %q): %w", i, m.Device, m.Destination, err)
		}
	}
	if needsDev(cfg) {
		if err := p.setupDev(); err != nil {
			return err
		}
	}
	if p.devRO {
		if err := sys.MountSetattr(p.devMnt, false, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("remount /dev read-only: %w", err)
		}
	}
	return nil
}

func (p *preparer) close() {
	p.root.Close()
	p.fds.Close()
	if p.devMnt != nil {
		p.devMnt.Close()
	}
}

// parentMountPrivate makes the mount holding the rootfs's parent private when it
// is shared: pivot_root(2) and MS_MOVE refuse a shared parent mount. So does
// the rootfs itself when it is a shared mount point: pivot_root(".", ".")
// refuses a shared new root (EINVAL). containerd's CRI asks for
// rootfsPropagation "rshared" when a volume is bidirectional, and the rshared
// "/" made above has made its overlay rootfs shared; runc makes the same mount
// private. The container's "/" is made rshared again after the pivot.
func parentMountPrivate(rootPath string) error {
	// thread-self: a parent thread in the container's mount namespace reads
	// its own view, not the process leader's (the host's).
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	mounts, err := mountinfo.GetMountsFromReader(f, nil)
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	parent := filepath.Dir(rootPath)
	var best *mountinfo.Info
	for _, m := range mounts {
		if m.Mountpoint == parent || m.Mountpoint == "/" || strings.HasPrefix(parent, m.Mountpoint+"/") {
			if best == nil || len(m.Mountpoint) >= len(best.Mountpoint) {
				best = m
			}
		}
	}
	if best != nil && strings.Contains(best.Optional, "shared:") {
		if err := sys.Mount("", best.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make rootfs parent mount private: %w", err)
		}
	}
	for _, m := range mounts {
		// The last one listed at the path is the one on top.
		if m.Mountpoint == rootPath {
			best = m
		}
	}
	if best == nil || best.Mountpoint != rootPath || !strings.Contains(best.Optional, "shared:") {
		return nil
	}
	if err := sys.Mount("", rootPath, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make rootfs mount private: %w", err)
	}
	return nil
}

// bindSelf bind-mounts the rootfs onto itself unless it already is a mount
// point, because pivot_root(2) needs new_root to be one. In a user namespace
// it always does: a mount namespace copied into a less privileged user
// namespace gets every inherited mount locked (MNT_LOCKED), and pivot_root
// refuses a locked new_root with EINVAL, e.g. podman's overlay at
// .../merged with --uidmap. The bind made here is ours, not locked.
func bindSelf(rootPath string, always bool) error {
	if !always {
		mnt, err := mountID(rootPath)
		if err != nil {
			return err
		}
		parent, err := mountID(filepath.Dir(rootPath))
		if err != nil {
			return err
		}
		if mnt != parent && rootPath != "/" {
			return nil
		}
	}
	if err := sys.Mount(rootPath, rootPath, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs onto itself: %w", err)
	}
	return nil
}

func mountID(p string) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, &os.PathError{Op: "statx", Path: p, Err: err}
	}
	return stx.Mnt_id, nil
}

// needsDev follows runc: /dev content is created unless /dev is bind-mounted.
func needsDev(cfg *configs.Config) bool {
	for i := range cfg.Mounts {
		if sys.CleanPath(cfg.Mounts[i].Destination) == "/dev" && cfg.Mounts[i].IsBind() {
			return false
		}
	}
	return true
}

// inUserNS reports whether we run in a user namespace other than the initial one,
// where flags of mounts from the parent namespace are locked.
func inUserNS() bool { return sys.InUserNS() }

// isNotExist is errors.Is(err, ENOENT), also through pathrs-lite's wrapping.
func isNotExist(err error) bool { return errors.Is(err, unix.ENOENT) }

// runcError is a failure that runc reports in words scripts and clients
// match: the mount loop puts them before the mount's JSON path.
type runcError struct{ words, detail string }

func (e *runcError) Error() string { return e.words + ": " + e.detail }
