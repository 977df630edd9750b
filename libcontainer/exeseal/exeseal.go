// Package exeseal gives `ocirun init` a sealed, read-only copy of the ocirun
// binary to run from, so nothing in a container can overwrite the host binary
// through /proc/<pid>/exe (CVE-2019-5736).
package exeseal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// CloneSelf returns a file holding the running executable that cannot be
// written by anyone: the binary itself when it already is a fully sealed memfd
// (a previous CloneSelf ran us); else the binary opened through a private,
// read-only overlayfs mount of its directory (no copy: ~0.1 ms); else, where
// overlayfs cannot be mounted (rootless), a sealed memfd copy (~6 ms for 10 MB).
// layer is a directory of the caller's for the overlay's second layer on
// kernels before 6.8 ("" for none; see legacyOverlayMount).
func CloneSelf(layer string) (*os.File, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	if s, err := unix.FcntlInt(exe.Fd(), unix.F_GET_SEALS, 0); err == nil && s&seals == seals {
		return exe, nil
	}
	defer exe.Close()
	if f, err := overlayOpen(exe, layer); err == nil {
		return f, nil
	}
	return memfdCopy(exe)
}

// overlayOpen opens the executable through a detached overlayfs mount whose
// layers are the binary's directory over a second one (a lower-only overlay
// needs two). The mount is never attached anywhere: only our fd
// reaches it, every write through it fails with EROFS, and it goes away with
// the last fd, i.e. when the init we exec from it exits.
func overlayOpen(exe *os.File, layer string) (*os.File, error) {
	path, err := os.Readlink("/proc/self/exe")
	if err != nil || !filepath.IsAbs(path) {
		return nil, fmt.Errorf("executable path %q: %w", path, err)
	}
	mnt, err := overlayMount(filepath.Dir(path))
	if err != nil && layer != "" {
		mnt, err = legacyOverlayMount(filepath.Dir(path), layer)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(path), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, os.NewSyscallError("openat overlay executable", err)
	}
	f := os.NewFile(uintptr(fd), "overlay:"+path)
	// The file at that path must still be the one we run, not a name in the
	// second layer showing through.
	var a, b unix.Stat_t
	if unix.Fstat(int(exe.Fd()), &a) != nil || unix.Fstat(fd, &b) != nil || a.Size != b.Size || a.Mtim != b.Mtim {
		f.Close()
		return nil, errors.New("executable changed on disk")
	}
	return f, nil
}

const overlayAttrs = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID

// overlayMount layers dir over an empty detached tmpfs, passed by fd
// (lowerdir+, Linux 6.8).
func overlayMount(dir string) (int, error) {
	empty, err := detachedMount("tmpfs", nil, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return -1, err
	}
	defer unix.Close(empty)
	return detachedMount("overlay", func(fs int) error {
		if err := unix.FsconfigSetString(fs, "lowerdir+", dir); err != nil {
			return err
		}
		return unix.FsconfigSetFd(fs, "lowerdir+", empty)
	}, overlayAttrs)
}

// legacyOverlayMount is overlayMount for kernels before 6.8: there is no
// lowerdir+, and a detached mount cannot be a layer (overlayfs clones each
// layer's mount, which must then be in our namespace), so the second layer
// is a directory of the caller's, by path. It need not be empty: dir is the
// upper of the two, and overlayOpen checks the file it opens is the one we
// run. The kernel refuses layers nested in each other (ELOOP). Without it the
// fallback is a memfd copy: 10 MB per container, and seconds under emulation.
func legacyOverlayMount(dir, layer string) (int, error) {
	return detachedMount("overlay", func(fs int) error {
		return unix.FsconfigSetString(fs, "lowerdir", escapeLayer(dir)+":"+escapeLayer(layer))
	}, overlayAttrs)
}

// escapeLayer escapes what overlayfs's lowerdir string gives a meaning to:
// the layer separator ':', the option separator ',' and the escape itself.
func escapeLayer(p string) string {
	var b strings.Builder
	for _, c := range p {
		if c == ':' || c == ',' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func detachedMount(fstype string, configure func(fs int) error, attrs int) (int, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen "+fstype, err)
	}
	defer unix.Close(fs)
	if configure != nil {
		if err := configure(fs); err != nil {
			return -1, os.NewSyscallError("fsconfig "+fstype, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, os.NewSyscallError("fsconfig create "+fstype, err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, os.NewSyscallError("fsmount "+fstype, err)
	}
	return mnt, nil
}

func memfdCopy(exe *os.File) (*os.File, error) {
	fd, err := unix.MemfdCreate("ocirun", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:ocirun")
	if err := copyAndSeal(mem, exe); err != nil {
		mem.Close()
		return nil, err
	}
	return mem, nil
}

func copyAndSeal(dst, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	// sendfile copies in the kernel; io.Copy falls back to read/write if it can't.
	n, err := io.Copy(dst, src)
	if err != nil {
		return fmt.Errorf("copy executable: %w", err)
	}
	if n != fi.Size() {
		return fmt.Errorf("copy executable: %d of %d bytes", n, fi.Size())
	}
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	return nil
}
