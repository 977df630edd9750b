package sys

import (
	"os"

	"golang.org/x/sys/unix"
)

// OpenTree is open_tree(2); with OPEN_TREE_CLONE the result is a detached copy of
// the mount (tree) at dir/path that can be configured before it is attached.
func OpenTree(dir *os.File, path string, flags uint) (*os.File, error) {
	dfd := unix.AT_FDCWD
	name := path
	if dir != nil {
		dfd = int(dir.Fd())
		name = dir.Name()
		if path != "" {
			name += "/" + path
		}
	}
	var fd int
	err := retry(func() (err error) {
		fd, err = unix.OpenTree(dfd, path, flags|unix.OPEN_TREE_CLOEXEC)
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// MoveMountOnto attaches the mount mnt (from open_tree or fsmount) onto the
// file or directory target refers to, without any path lookup.
func MoveMountOnto(mnt, target *os.File) error {
	err := retry(func() error {
		return unix.MoveMount(int(mnt.Fd()), "", int(target.Fd()), "",
			unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	})
	if err != nil {
		return &os.PathError{Op: "move_mount", Path: target.Name(), Err: err}
	}
	return nil
}

// MountSetattr applies attr to the mount mnt refers to (and below it with recursive).
func MountSetattr(mnt *os.File, recursive bool, attr *unix.MountAttr) error {
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	err := retry(func() error { return unix.MountSetattr(int(mnt.Fd()), "", flags, attr) })
	if err != nil {
		return &os.PathError{Op: "mount_setattr", Path: mnt.Name(), Err: err}
	}
	return nil
}

// FsOption is one fsconfig(2) parameter: a flag when HasValue is false.
type FsOption struct {
	Key, Value string
	HasValue   bool
}

// NewFsMount creates a detached mount of a fresh fstype superblock with fsopen,
// fsconfig and fsmount. The kernel's message log is included in errors, since
// fsconfig's EINVAL alone does not say which option was refused.
func NewFsMount(fstype, source string, opts []FsOption) (*os.File, error) {
	var fsfd int
	err := retry(func() (err error) {
		fsfd, err = unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "fsopen", Path: fstype, Err: err}
	}
	defer unix.Close(fsfd)
	return fsMount(fsfd, fstype, source, opts)
}

// NewFsMountFrom is NewFsMount with a context another process opened
// (fsopen), whose namespaces the new superblock gets.
func NewFsMountFrom(ctx *os.File, fstype, source string, opts []FsOption) (*os.File, error) {
	return fsMount(int(ctx.Fd()), fstype, source, opts)
}

func fsMount(fsfd int, fstype, source string, opts []FsOption) (*os.File, error) {
	var err error
	fail := func(op, what string, err error) error {
		if msg := fsLog(fsfd); msg != "" {
			what += " (" + msg + ")"
		}
		return &os.PathError{Op: op, Path: fstype + ": " + what, Err: err}
	}
	if source != "" {
		if err := unix.FsconfigSetString(fsfd, "source", source); err != nil {
			return nil, fail("fsconfig", "source="+source, err)
		}
	}
	for _, o := range opts {
		if o.HasValue {
			err = unix.FsconfigSetString(fsfd, o.Key, o.Value)
		} else {
			err = unix.FsconfigSetFlag(fsfd, o.Key)
		}
		if err != nil {
			return nil, fail("fsconfig", o.Key, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fail("fsconfig", "create", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fail("fsmount", "", err)
	}
	return os.NewFile(uintptr(mfd), fstype), nil
}

// fsLog drains the filesystem context's message log (non-blocking reads).
func fsLog(fsfd int) string {
	var out string
	buf := make([]byte, 1024)
	for range 8 {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		if out != "" {
			out += "; "
		}
		out += string(buf[:n])
	}
	return out
}

// Reconfigure changes the superblock of the mount mnt refers to with fspick(2)
// and FSCONFIG_CMD_RECONFIGURE, the new-API form of mount(2)'s MS_REMOUNT.
// Options the filesystem does not name keep their value.
func Reconfigure(mnt *os.File, opts []FsOption) error {
	var fsfd int
	err := retry(func() (err error) {
		fsfd, err = unix.Fspick(int(mnt.Fd()), "", unix.FSPICK_EMPTY_PATH|unix.FSPICK_CLOEXEC)
		return err
	})
	if err != nil {
		return &os.PathError{Op: "fspick", Path: mnt.Name(), Err: err}
	}
	defer unix.Close(fsfd)
	fail := func(what string, err error) error {
		if msg := fsLog(fsfd); msg != "" {
			what += " (" + msg + ")"
		}
		return &os.PathError{Op: "fsconfig", Path: mnt.Name() + ": " + what, Err: err}
	}
	for _, o := range opts {
		if o.HasValue {
			err = unix.FsconfigSetString(fsfd, o.Key, o.Value)
		} else {
			err = unix.FsconfigSetFlag(fsfd, o.Key)
		}
		if err != nil {
			return fail(o.Key, err)
		}
	}
	if err := unix.FsconfigReconfigure(fsfd); err != nil {
		return fail("reconfigure", err)
	}
	return nil
}

// IsMountRoot reports whether f is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
func IsMountRoot(f *os.File) (bool, error) {
	var stx unix.Statx_t
	err := retry(func() error {
		return unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx)
	})
	if err != nil {
		return false, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	return stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}
