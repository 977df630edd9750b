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
		sub := joinDest(dest, name)
		if err := p.mountHierarchy(mp, sub, flags); err != nil {
			return fmt.Errorf("cgroup hierarchy %q: %w", mp, err)
		}
		if err := p.comountLinks(dest, name); err != nil {
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
func (p *preparer) bindV2Cgroup(dest string, flags int) (*os.File, error) {
	for mp, path := range p.cg.Paths {
		var st unix.Statfs_t
		if err := unix.Statfs(mp, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			continue
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
	return nil, errors.New("cgroup2 mount refused and no cgroup2 directory of the container to bind instead")
}

// mountHierarchy mounts one v1 hierarchy (or the hybrid cgroup2 one) at sub.
func (p *preparer) mountHierarchy(hostMP, sub string, flags int) error {
	var st unix.Statfs_t
	if err := unix.Statfs(hostMP, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: hostMP, Err: err}
	}
	var mnt *os.File
	var err error
	switch {
	case p.cg.NSCgroup && st.Type == unix.CGROUP2_SUPER_MAGIC:
		mnt, err = p.attachNew("cgroup2", "cgroup2", sub, nil, flags)
	case p.cg.NSCgroup:
		var opts []sys.FsOption
		for _, c := range p.cg.Controllers[hostMP] {
			k, v, ok := strings.Cut(c, "=")
			opts = append(opts, sys.FsOption{Key: k, Value: v, HasValue: ok})
		}
		mnt, err = p.attachNew("cgroup", "cgroup", sub, opts, flags)
	default:
		mnt, err = bindTree(p.cg.Paths[hostMP], false)
		if err == nil {
			err = p.attach(mnt, sub, mountAttr(flags, 0), false)
		}
	}
	if mnt != nil {
		mnt.Close()
	}
	return err
}

// comountLinks adds cpu → cpu,cpuacct style symlinks so both names work.
func (p *preparer) comountLinks(dest, name string) error {
	parts := strings.Split(name, ",")
	if len(parts) < 2 {
		return nil
	}
	dir, err := sys.OpenInRoot(p.root, dest)
	if err != nil {
		return err
	}
	defer dir.Close()
	for _, c := range parts {
		if err := sys.Symlinkat(name, dir, c); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}
