package sys

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// The small files of /proc, cgroupfs and the state dir are read and written
// here rather than through os.Open: os registers every file it opens with
// the runtime's poller, and procfs and kernfs files are pollable, so each
// open cost an epoll_ctl and an fcntl more and its close another epoll_ctl
// (~40 files per `run`; list does it for every container).

// Open is open(2) with O_CLOEXEC and EINTR retry, for a plain fd; the
// error is an open *os.PathError.
func Open(path string, flags int) (int, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = unix.Open(path, flags|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// ReadFile is os.ReadFile without the poller.
func ReadFile(path string) ([]byte, error) {
	fd, err := Open(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 512)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
	}
}

// WriteOnce opens path with flags (O_WRONLY and the like) and writes s in
// one write(2), as cgroupfs and procfs knobs want. An open failure is a
// *os.PathError; a write failure is the bare errno, for the caller to word.
func WriteOnce(path string, flags int, s string) error {
	fd, err := Open(path, flags)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return retry(func() error {
		_, err := unix.Write(fd, []byte(s))
		return err
	})
}
