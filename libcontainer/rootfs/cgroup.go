package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// mountCgroup handles a "cgroup" mount: cgroup2 on v2; on v1 a tmpfs with one
// mount per hierarchy, either a cgroup mount (in a cgroup namespace, which
// shows only the container's subtree) or a bind of the container's host cgroup
// directory. Everything is read-only unless the entry asks for rw.
func (p *preparer) mountCgroup(m *configs.Mount, dest string) error {
	if p.cg == nil {
		return errors.New("cgroup mount without cgroup information from the runtime")
	}
	if err := checkProcDest(dest, m, 0); err != nil {
		return err
	}
	flags := m.Flags | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if len(p.cg.Paths) == 0 {
		// No cgroup of the container's own (rootless): what is shown is
		// not the container's to change, whatever the config asks. The
		// runtime's cgroup may be one the user owns, shared with its other
		// processes (CVE-2023-25809).
		flags |= unix.MS_RDONLY
	}
	if p.cg.V2 || m.Device == "cgroup2" {
		mnt, err := p.attachNew("cgroup2", "cgroup2", dest, nil, flags)
		if err != nil && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) && !p.cg.NSCgroup {
			// A new user namespace without its own cgroup namespace may not
			// mount cgroup2 (the cgroupns is owned by the host's userns): show
			// the container's own cgroup directory instead, as runc does.
			mnt, err = p.bindV2Cgroup(dest, flags)
		}
		if err != nil {
			return err
		}
		defer mnt.Close()
		return propagate(mnt, m.PropagationFlags)
	}

	// The tmpfs stays writable until the hierarchy directories exist.
	tmp, err := p.attachNew("tmpfs", "tmpfs", dest, []sys.FsOption{{Key: "mode", Value: "755", HasValue: true}},
		flags&^unix.MS_RDONLY)
	if err != nil {
		return err
	}
	defer tmp.Close()

	mps := make([]string, 0, len(p.cg.Paths))
	for mp := range p.cg.Paths {
		mps = append(mps, mp)
	}
	sort.Strings(mps)
	for _, mp := range mps {
		name := filepath.Base(mp)
		if err := p.mountHierarchy(mp, tmp, name, flags); err != nil {
			return fmt.Errorf("cgroup hierarchy %q: %w", mp, err)
		}
		if err := comountLinks(tmp, name); err != nil {
			return err
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := sys.MountSetattr(tmp, false, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return err
		}
	}
	return propagate(tmp, m.PropagationFlags)
}

// bindV2Cgroup bind-mounts the container's directory of the cgroup2 hierarchy at dest.
// A rootless container without a cgroup of its own is in the runtime's:
// that one is bound, as a cgroup namespace would show it.
func (p *preparer) bindV2Cgroup(dest string, flags int) (*os.File, error) {
	path := ""
	for mp, dir := range p.cg.Paths {
		if isCgroup2(mp) {
			path = dir
		}
	}
	if path == "" && len(p.cg.Paths) == 0 {
		for mp := range p.cg.Controllers {
			if isCgroup2(mp) {
				own, err := ownV2Cgroup()
				if err != nil {
					return nil, err
				}
				path = filepath.Join(mp, own)
			}
		}
	}
	if path == "" {
		return nil, errors.New("cgroup2 mount refused and no cgroup2 directory of the container to bind instead")
	}
	mnt, err := bindTree(path, false)
	if err != nil {
		return nil, fmt.Errorf("bind cgroup2 dir %q: %w", path, err)
	}
	if err := p.attach(mnt, dest, mountAttr(flags, 0), false); err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

func isCgroup2(mp string) bool {
	var st unix.Statfs_t
	return unix.Statfs(mp, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// ownV2Cgroup is the cgroup2 path of the calling thread: the container's
// init and the runtime's thread building its rootfs share it.
func ownV2Cgroup() (string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Clean("/" + rest), nil
		}
	}
	return "", errors.New("/proc/thread-self/cgroup has no cgroup2 line")
}

// mountHierarchy mounts one v1 hierarchy (or the hybrid cgroup2 one) on the
// directory name of the cgroup tmpfs tmp.
func (p *preparer) mountHierarchy(hostMP string, tmp *os.File, name string, flags int) error {
	var st unix.Statfs_t
	if err := unix.Statfs(hostMP, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: hostMP, Err: err}
	}
	var mnt *os.File
	var err error
	switch {
	case p.cg.NSCgroup && st.Type == unix.CGROUP2_SUPER_MAGIC:
		mnt, err = sys.NewFsMount("cgroup2", "cgroup2", nil)
	case p.cg.NSCgroup:
		var opts []sys.FsOption
		for _, c := range p.cg.Controllers[hostMP] {
			k, v, ok := strings.Cut(c, "=")
			opts = append(opts, sys.FsOption{Key: k, Value: v, HasValue: ok})
		}
		mnt, err = sys.NewFsMount("cgroup", "cgroup", opts)
	default:
		mnt, err = bindTree(p.cg.Paths[hostMP], false)
	}
	if err != nil {
		return err
	}
	defer mnt.Close()
	target, err := tmpfsDir(tmp, name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := setattr(mnt, false, mountAttr(flags, 0)); err != nil {
		return err
	}
	return sys.MoveMountOnto(mnt, target)
}

// tmpfsDir makes the directory name in the cgroup tmpfs and returns a handle
// to it. The tmpfs is ours: made a moment ago, empty, in a container with no
// process of its own yet, so there is nothing to resolve in the root there
// and each hierarchy costs a mkdirat and an openat.
func tmpfsDir(tmp *os.File, name string) (*os.File, error) {
	if err := unix.Mkdirat(int(tmp.Fd()), name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	return sys.Openat(tmp, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
}

// comountLinks adds cpu → cpu,cpuacct style symlinks so both names work.
func comountLinks(tmp *os.File, name string) error {
	parts := strings.Split(name, ",")
	if len(parts) < 2 {
		return nil
	}
	for _, c := range parts {
		if err := sys.Symlinkat(name, tmp, c); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}
