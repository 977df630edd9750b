package rootfs

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// copyUp implements runc's tmpcopyup: the mountpoint's current content is
// copied into the still-detached tmpfs mnt, keeping modes, owners, symlinks and
// device nodes. Working on the detached mount means no path in the container is
// ever looked up for the copy.
func copyUp(target, mnt *os.File) error {
	src, err := sys.Openat(target, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := sys.Openat(mnt, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer dst.Close()
	return copyDir(src, dst)
}

func copyDir(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %q: %w", src.Name(), err)
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(src, dst *os.File, name string) error {
	st, err := sys.Lstatat(src, name)
	if err != nil {
		return err
	}
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(int(dst.Fd()), name, 0o700); err != nil {
			return &os.PathError{Op: "mkdirat", Path: dst.Name() + "/" + name, Err: err}
		}
		s, err := sys.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := sys.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := copyDir(s, d); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(src, dst, name); err != nil {
			return err
		}
	case unix.S_IFLNK:
		link, err := sys.Readlinkat(src, name)
		if err != nil {
			return err
		}
		if err := sys.Symlinkat(link, dst, name); err != nil {
			return err
		}
		return sys.Fchownat(dst, name, int(st.Uid), int(st.Gid))
	default: // device nodes, fifos and sockets
		if err := sys.Mknodat(dst, name, st.Mode, st.Rdev); err != nil {
			return err
		}
	}
	if err := sys.Fchownat(dst, name, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// After chown, which clears set-id bits; the entry is ours, not a symlink.
	if err := unix.Fchmodat(int(dst.Fd()), name, perm, 0); err != nil {
		return &os.PathError{Op: "fchmodat", Path: dst.Name() + "/" + name, Err: err}
	}
	return nil
}

func copyFile(src, dst *os.File, name string) error {
	in, err := sys.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := sys.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %q: %w", in.Name(), err)
	}
	return nil
}
