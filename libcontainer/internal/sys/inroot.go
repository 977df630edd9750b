package sys

import (
	"errors"
	"fmt"
	"os"
	"path"
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
	return pathrs.OpenatInRoot(root, CleanPath(p))
}

// OpenNoFollowInRoot resolves the parent of p inside root and opens its last
// component with O_PATH|O_NOFOLLOW: a trailing symlink is returned as itself.
func OpenNoFollowInRoot(root *os.File, p string) (*os.File, error) {
	p = CleanPath(p)
	if p == "/" {
		return Openat(root, ".", unix.O_PATH|unix.O_DIRECTORY, 0)
	}
	dir, err := pathrs.OpenatInRoot(root, path.Dir(p))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return Openat(dir, path.Base(p), unix.O_PATH|unix.O_NOFOLLOW, 0)
}

// MkdirAllInRoot creates p and its missing parents inside root and returns a
// handle to the directory.
func MkdirAllInRoot(root *os.File, p string, mode os.FileMode) (*os.File, error) {
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

// CheckInside verifies that f's real path is root or below it and returns the
// path relative to root, in "/"-rooted form.
func CheckInside(root string, f *os.File) (string, error) {
	real, err := RealPath(f)
	if err != nil {
		return "", err
	}
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
