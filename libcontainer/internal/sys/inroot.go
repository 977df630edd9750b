package sys

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// ErrOutsideRoot is returned when a handle resolved in a root turns out to point outside it.
var ErrOutsideRoot = errors.New("path resolves outside the root")

// CleanPath makes p absolute and lexically clean, so ".." cannot climb above "/".
func CleanPath(p string) string { return path.Clean("/" + p) }

// OpenInRoot resolves p inside root (symlinks, including a trailing one, are
// resolved as if root were "/") and returns an O_PATH handle.
func OpenInRoot(root *os.File, p string) (*os.File, error) {
	return openInRoot(root, CleanPath(p), 0)
}

// openInRoot is openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): the kernel
// keeps the whole lookup, symlinks and ".." included, inside root, in one
// syscall. pathrs.OpenatInRoot does the same and then reads the handle's
// path back through a freshly verified procfs only to name the file, ~15
// syscalls per lookup that a container start pays dozens of times; the
// handle is named by p instead. EAGAIN is the kernel seeing a rename race
// on ".." (retried, as pathrs does); kernels without openat2 (< 5.6) get
// pathrs's own walk.
func openInRoot(root *os.File, p string, flags uint64) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | flags,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel := "." + p
	for range 32 {
		fd, err := unix.Openat2(int(root.Fd()), rel, how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), path.Join(root.Name(), p)), nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS):
			return pathrs.OpenatInRoot(root, p)
		default:
			return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
		}
	}
	return nil, &os.PathError{Op: "openat2", Path: p, Err: unix.EAGAIN}
}

// OpenNoFollowInRoot resolves the parent of p inside root and opens its last
// component with O_PATH|O_NOFOLLOW: a trailing symlink is returned as itself.
func OpenNoFollowInRoot(root *os.File, p string) (*os.File, error) {
	p = CleanPath(p)
	if p == "/" {
		return Openat(root, ".", unix.O_PATH|unix.O_DIRECTORY, 0)
	}
	dir, err := openInRoot(root, path.Dir(p), 0)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return Openat(dir, path.Base(p), unix.O_PATH|unix.O_NOFOLLOW, 0)
}

// MkdirAllInRoot creates p and its missing parents inside root and returns a
// handle to the directory.
func MkdirAllInRoot(root *os.File, p string, mode os.FileMode) (*os.File, error) {
	// Most mountpoints exist in the image: one lookup. Creating is pathrs's,
	// which makes each missing component with mkdirat and O_NOFOLLOW checks.
	if d, err := openInRoot(root, CleanPath(p), unix.O_DIRECTORY); err == nil || !errors.Is(err, unix.ENOENT) {
		if err != nil {
			return nil, fmt.Errorf("mkdir %q in root: %w", p, err)
		}
		return d, nil
	}
	d, err := pathrs.MkdirAllHandle(root, CleanPath(p), mode)
	if err != nil {
		return nil, fmt.Errorf("mkdir %q in root: %w", p, err)
	}
	return d, nil
}

// CreateFileInRoot returns a handle to the file p inside root, creating it
// (and its parent directories) if it does not exist. Creation uses
// O_EXCL|O_NOFOLLOW so a symlink swapped in cannot redirect it (CVE-2024-45310);
// an existing path is resolved in root like OpenInRoot.
func CreateFileInRoot(root *os.File, p string, mode uint32) (*os.File, error) {
	p = CleanPath(p)
	if p == "/" {
		return nil, fmt.Errorf("create file %q in root: %w", p, unix.EISDIR)
	}
	f, err := OpenInRoot(root, p)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return f, err
	}
	dir, err := MkdirAllInRoot(root, path.Dir(p), 0o755)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	f, err = Openat(dir, path.Base(p), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY, mode)
	if err != nil {
		return nil, fmt.Errorf("create file %q in root: %w", p, err)
	}
	return f, nil
}

// RealPath returns where f really is, read through a verified procfs handle.
func RealPath(f *os.File) (string, error) {
	p, err := procfs.ProcSelfFdReadlink(f)
	if err != nil {
		return "", fmt.Errorf("readlink fd of %q: %w", f.Name(), err)
	}
	return p, nil
}

// FdPaths reads where the calling thread's fds really are, through one
// /proc/thread-self/fd handle of a verified procfs, opened once: one
// readlinkat per question instead of a procfs handle to open and verify
// each time. It belongs to the OS thread that opened it.
type FdPaths struct {
	dir   *os.File
	close procfs.ProcThreadSelfCloser
}

// OpenFdPaths opens the calling thread's fd directory.
func OpenFdPaths() (*FdPaths, error) {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return nil, err
	}
	defer proc.Close()
	dir, closer, err := proc.OpenThreadSelf("fd")
	if err != nil {
		return nil, fmt.Errorf("open /proc/thread-self/fd: %w", err)
	}
	return &FdPaths{dir: dir, close: closer}, nil
}

// Close closes the directory.
func (p *FdPaths) Close() {
	p.dir.Close()
	p.close()
}

// RealPath returns where f really is.
func (p *FdPaths) RealPath(f *os.File) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(p.dir.Fd()), strconv.Itoa(int(f.Fd())), buf)
	if err != nil {
		return "", fmt.Errorf("readlink fd of %q: %w", f.Name(), err)
	}
	return string(buf[:n]), nil
}

// CheckInside verifies that f's real path is root or below it and returns the
// path relative to root, in "/"-rooted form.
func (p *FdPaths) CheckInside(root string, f *os.File) (string, error) {
	real, err := p.RealPath(f)
	if err != nil {
		return "", err
	}
	return inside(root, real, f)
}

// CheckInside verifies that f's real path is root or below it and returns the
// path relative to root, in "/"-rooted form.
func CheckInside(root string, f *os.File) (string, error) {
	real, err := RealPath(f)
	if err != nil {
		return "", err
	}
	return inside(root, real, f)
}

func inside(root, real string, f *os.File) (string, error) {
	root = path.Clean(root)
	switch {
	case root == "/":
		return real, nil
	case real == root:
		return "/", nil
	case strings.HasPrefix(real, root+"/"):
		return real[len(root):], nil
	}
	return "", fmt.Errorf("%q is %q, not under %q: %w", f.Name(), real, root, ErrOutsideRoot)
}
