package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// remount changes the mount an earlier entry made at dest, as mount(2) with
// MS_REMOUNT does: the per-mount flags with mount_setattr, and, unless the
// entry is a bind ("remount,bind,ro" touches only the mount), the superblock's
// flags and data with fspick. Nothing is created: dest must be a mount root,
// or the change would hit the mount of the rootfs itself.
func (p *preparer) remount(m *configs.Mount, dest string) error {
	target, err := sys.OpenInRoot(p.root, dest)
	if err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	defer target.Close()
	rel, err := p.checkTarget(target)
	if err != nil {
		return err
	}
	if err := checkProcDest(rel, m, procMagicIfBind(m, rel)); err != nil {
		return err
	}
	root, err := sys.IsMountRoot(target)
	if err != nil {
		return err
	}
	if !root {
		return errors.New("remount: destination is not a mount point")
	}
	if !m.IsBind() {
		opts := fsOptions(m, p.mountLabel)
		if m.Flags&unix.MS_RDONLY != 0 {
			opts = append(opts, sys.FsOption{Key: "ro"})
		} else if m.ClearedFlags&unix.MS_RDONLY != 0 {
			opts = append(opts, sys.FsOption{Key: "rw"})
		}
		if len(opts) > 0 {
			if err := sys.Reconfigure(target, opts); err != nil {
				return err
			}
		}
	}
	attr := mountAttr(m.Flags, m.ClearedFlags)
	if inUserNS() {
		if err := keepLocked(target, attr); err != nil {
			return err
		}
	}
	if err := setattr(target, false, attr); err != nil {
		return err
	}
	if err := recursiveAttrs(target, m); err != nil {
		return err
	}
	return propagate(target, m.PropagationFlags)
}
