package rootfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// Finalize runs after Pivot: it remounts / read-only if cfg.Readonly, then
// makes cfg.ReadonlyPaths read-only and masks cfg.MaskedPaths, in runc's
// order, and last applies an unbindable linux.rootfsPropagation. The init may
// call the steps itself to interleave others.
func Finalize(cfg *configs.Config) error {
	if cfg.Readonly {
		if err := RemountRootReadonly(); err != nil {
			return err
		}
	}
	if err := ReadonlyPaths(cfg.ReadonlyPaths); err != nil {
		return err
	}
	if err := MaskPaths(cfg.MaskedPaths); err != nil {
		return err
	}
	return RootUnbindable(cfg.RootPropagation)
}

// RootUnbindable makes / (recursively, for runbindable) unbindable when prop
// asks for it. It comes last: read-only and masked paths are binds, which the
// kernel refuses from an unbindable mount.
func RootUnbindable(prop int) error {
	if prop&unix.MS_UNBINDABLE == 0 {
		return nil
	}
	if err := sys.Mount("", "/", "", uintptr(prop), ""); err != nil {
		return fmt.Errorf("linux.rootfsPropagation 0x%x: %w", prop, err)
	}
	return nil
}

func openRoot() (*os.File, error) {
	return os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// RemountRootReadonly makes the root mount read-only; mount_setattr changes
// only that bit, so flags locked by a user namespace are kept.
func RemountRootReadonly() error {
	root, err := openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := sys.MountSetattr(root, false, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("root.readonly: %w", err)
	}
	return nil
}

// ReadonlyPaths bind-mounts each existing path onto itself, recursively read-only.
func ReadonlyPaths(paths []string) error {
	root, err := openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	for i, p := range paths {
		if err := readonlyPath(root, p); err != nil {
			return fmt.Errorf("linux.readonlyPaths[%d] %q: %w", i, p, err)
		}
	}
	return nil
}

func readonlyPath(root *os.File, p string) error {
	target, err := sys.OpenInRoot(root, p)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	mnt, err := sys.OpenTree(target, "", unix.OPEN_TREE_CLONE|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if err := sys.MountSetattr(mnt, true, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return err
	}
	return sys.MoveMountOnto(mnt, target)
}

// MaskPaths hides each existing path: a file under a bind of /dev/null, a
// directory under an empty read-only tmpfs. As in runc 1.4, a path listed
// twice is masked once, and the directories share one tmpfs (binds of it),
// not a superblock each.
func MaskPaths(paths []string) error {
	root, err := openRoot()
	if err != nil {
		return err
	}
	defer root.Close()
	var null, empty *os.File
	defer func() {
		for _, f := range []*os.File{null, empty} {
			if f != nil {
				f.Close()
			}
		}
	}()
	seen := map[string]bool{}
	for i, p := range paths {
		if seen[sys.CleanPath(p)] {
			continue
		}
		seen[sys.CleanPath(p)] = true
		target, err := sys.OpenInRoot(root, p)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.maskedPaths[%d] %q: %w", i, p, err)
		}
		st, err := sys.Fstat(target)
		if err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				empty, err = maskDir(target, empty)
			} else {
				if null == nil {
					null, err = openDevNull(root)
				}
				if err == nil {
					err = maskFile(target, null)
				}
			}
		}
		target.Close()
		if err != nil {
			return fmt.Errorf("linux.maskedPaths[%d] %q: %w", i, p, err)
		}
	}
	return nil
}

// openDevNull opens the container's /dev/null without following a symlink and
// checks it is the 1:3 character device: masking binds it over sensitive files,
// and a hostile /dev/null would otherwise expose its target rw (CVE-2025-31133).
func openDevNull(root *os.File) (*os.File, error) {
	f, err := sys.OpenNoFollowInRoot(root, "/dev/null")
	if err != nil {
		return nil, fmt.Errorf("/dev/null is invalid: %w", err)
	}
	st, err := sys.Fstat(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		f.Close()
		return nil, fmt.Errorf("/dev/null is invalid: mode 0%o rdev %d:%d, want char device 1:3",
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return f, nil
}

func maskFile(target, null *os.File) error {
	mnt, err := sys.OpenTree(null, "", unix.OPEN_TREE_CLONE|unix.AT_EMPTY_PATH)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return sys.MoveMountOnto(mnt, target)
}

// maskDir puts an empty read-only tmpfs on target: a new one the first time,
// then binds of that first one, now attached (a detached mount cannot be
// cloned before Linux 6.15). It returns the mount to bind next time.
func maskDir(target, shared *os.File) (*os.File, error) {
	if shared != nil {
		mnt, err := sys.OpenTree(shared, "", unix.OPEN_TREE_CLONE|unix.AT_EMPTY_PATH)
		if err != nil {
			return shared, err
		}
		defer mnt.Close()
		return shared, sys.MoveMountOnto(mnt, target)
	}
	mnt, err := sys.NewFsMount("tmpfs", "tmpfs", []sys.FsOption{{Key: "size", Value: "0", HasValue: true}})
	if err != nil {
		return nil, err
	}
	if err := sys.MountSetattr(mnt, false, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		mnt.Close()
		return nil, err
	}
	if err := sys.MoveMountOnto(mnt, target); err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}
