// Package sys holds the generic syscall helpers the container-side packages share:
// EINTR-safe wrappers with typed errors, in-root path resolution and a verified procfs handle.
package sys

import (
	"errors"
	"os"
	"strconv"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// retry runs fn until it stops failing with EINTR: mount(2), open_tree(2) and friends
// may be interrupted by the Go runtime's preemption signals.
func retry(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Mount is mount(2) with EINTR retry; the error names the target.
func Mount(source, target, fstype string, flags uintptr, data string) error {
	err := retry(func() error { return unix.Mount(source, target, fstype, flags, data) })
	if err != nil {
		return &os.PathError{Op: "mount", Path: target, Err: err}
	}
	return nil
}

// Unmount is umount2(2) with EINTR retry.
func Unmount(target string, flags int) error {
	err := retry(func() error { return unix.Unmount(target, flags) })
	if err != nil {
		return &os.PathError{Op: "umount2", Path: target, Err: err}
	}
	return nil
}

// PivotRoot is pivot_root(2).
func PivotRoot(newRoot, putOld string) error {
	if err := unix.PivotRoot(newRoot, putOld); err != nil {
		return &os.PathError{Op: "pivot_root", Path: newRoot, Err: err}
	}
	return nil
}

// Fstat stats an open file.
func Fstat(f *os.File) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := retry(func() error { return unix.Fstat(int(f.Fd()), &st) })
	if err != nil {
		return st, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return st, nil
}

// Fstatfs statfs's an open file.
func Fstatfs(f *os.File) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := retry(func() error { return unix.Fstatfs(int(f.Fd()), &st) })
	if err != nil {
		return st, &os.PathError{Op: "fstatfs", Path: f.Name(), Err: err}
	}
	return st, nil
}

// Lstatat stats dir/name without following a trailing symlink.
func Lstatat(dir *os.File, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := retry(func() error { return unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	if err != nil {
		return st, &os.PathError{Op: "fstatat", Path: dir.Name() + "/" + name, Err: err}
	}
	return st, nil
}

// Openat opens dir/name; the result is named after both for error messages.
func Openat(dir *os.File, name string, flags int, mode uint32) (*os.File, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = unix.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, mode)
		return err
	})
	path := dir.Name() + "/" + name
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Mknodat is mknodat(2).
func Mknodat(dir *os.File, name string, mode uint32, dev uint64) error {
	err := retry(func() error { return unix.Mknodat(int(dir.Fd()), name, mode, int(dev)) })
	if err != nil {
		return &os.PathError{Op: "mknodat", Path: dir.Name() + "/" + name, Err: err}
	}
	return nil
}

// Symlinkat is symlinkat(2) creating dir/name → target.
func Symlinkat(target string, dir *os.File, name string) error {
	err := retry(func() error { return unix.Symlinkat(target, int(dir.Fd()), name) })
	if err != nil {
		return &os.PathError{Op: "symlinkat", Path: dir.Name() + "/" + name, Err: err}
	}
	return nil
}

// Unlinkat is unlinkat(2).
func Unlinkat(dir *os.File, name string, flags int) error {
	err := retry(func() error { return unix.Unlinkat(int(dir.Fd()), name, flags) })
	if err != nil {
		return &os.PathError{Op: "unlinkat", Path: dir.Name() + "/" + name, Err: err}
	}
	return nil
}

// Readlinkat reads the symlink dir/name.
func Readlinkat(dir *os.File, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	var n int
	err := retry(func() (err error) {
		n, err = unix.Readlinkat(int(dir.Fd()), name, buf)
		return err
	})
	if err != nil {
		return "", &os.PathError{Op: "readlinkat", Path: dir.Name() + "/" + name, Err: err}
	}
	return string(buf[:n]), nil
}

// Fchmod sets the mode of the inode f refers to, which may be an O_PATH
// handle: fchmodat2(AT_EMPTY_PATH) where the kernel has it (6.6), else chmod
// through f's magic link in a verified procfs, which also names the inode,
// never a path that could be swapped. A symlink is refused: the magic link
// would land on it and chmod would then follow it.
func Fchmod(f *os.File, mode uint32) error {
	st, err := Fstat(f)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return &os.PathError{Op: "fchmodat", Path: f.Name(), Err: unix.ELOOP}
	}
	err = retry(func() error { return unix.Fchmodat(int(f.Fd()), "", mode, unix.AT_EMPTY_PATH) })
	// x/sys reports a kernel without fchmodat2 as EOPNOTSUPP.
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		err = fchmodProcfs(f, mode)
	}
	if err != nil {
		return &os.PathError{Op: "fchmodat", Path: f.Name(), Err: err}
	}
	return nil
}

func fchmodProcfs(f *os.File, mode uint32) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return err
	}
	defer proc.Close()
	fds, err := proc.OpenSelf("fd")
	if err != nil {
		return err
	}
	defer fds.Close()
	return retry(func() error { return unix.Fchmodat(int(fds.Fd()), strconv.Itoa(int(f.Fd())), mode, 0) })
}

// Fchown changes the owner of the inode f refers to, which may be an O_PATH handle.
func Fchown(f *os.File, uid, gid int) error {
	err := retry(func() error {
		return unix.Fchownat(int(f.Fd()), "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return &os.PathError{Op: "fchownat", Path: f.Name(), Err: err}
	}
	return nil
}

// Fchownat changes the owner of dir/name without following a trailing symlink.
func Fchownat(dir *os.File, name string, uid, gid int) error {
	err := retry(func() error { return unix.Fchownat(int(dir.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) })
	if err != nil {
		return &os.PathError{Op: "fchownat", Path: dir.Name() + "/" + name, Err: err}
	}
	return nil
}
