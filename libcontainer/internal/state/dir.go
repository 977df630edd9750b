package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// The files of a container's state dir.
const (
	// StateFile holds State: the facts status is derived from.
	StateFile = "state.json"
	// ConfigFile holds the normalized config, written once by create.
	ConfigFile = "config.json"
	// FifoName is exec.fifo: init blocks opening it until `start` reads;
	// while it exists the container is created, not yet started.
	FifoName = "exec.fifo"
	// StartPlan tells `start` that it only has to open exec.fifo, which
	// it then does before the Go runtime starts (nsexec's faststart.c).
	StartPlan = "start.plan"
)

// Create makes the state dir of a new container id under root (the root
// 0700 if missing, the dir 0711) and returns it locked. An id already
// taken is ErrExist, in runc's words. create and restore both begin here.
func Create(root, id string) (string, *Lock, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, err
	}
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return "", nil, err
	}
	lock, err := LockDir(dir)
	if err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, lock, nil
}

// Lock is an exclusive flock on a container dir. Every operation that
// changes a container holds it, so concurrent kill/delete/start from a
// shim cannot interleave. The lock dies with its fd, also when the
// process does.
type Lock struct{ fd int }

// LockDir takes the lock of the container dir, waiting for it.
func LockDir(dir string) (*Lock, error) {
	fd, err := sys.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		// Removed since it was loaded: a delete came first.
		return nil, fmt.Errorf("%w: %q", ErrNotExist, filepath.Base(dir))
	}
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	// Whoever held the lock before us may have removed the dir (delete),
	// and a create may have made a new one of the same id: the lock is
	// only ours if dir is still the directory we locked.
	var locked, now unix.Stat_t
	if err := unix.Fstat(fd, &locked); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: dir, Err: err}
	}
	if err := unix.Stat(dir, &now); err != nil || now.Dev != locked.Dev || now.Ino != locked.Ino {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: %q", ErrNotExist, filepath.Base(dir))
	}
	return &Lock{fd: fd}, nil
}

// Unlock releases the lock; a second call does nothing.
func (l *Lock) Unlock() {
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

// WriteFileAtomic writes path through a temp file in the same dir and a
// rename: a reader sees the old or the new file, never a torn one. fsync
// is skipped: the state dir lives on a tmpfs (/run) in every deployment
// that matters, and rename is atomic without it.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
