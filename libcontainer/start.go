package libcontainer

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// Start lets the init of a created container exec the user program: opening
// exec.fifo for reading unblocks init's open for writing. Then the poststart
// hooks run.
func (c *Container) Start(log *slog.Logger) error {
	lock, st, err := c.lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if !st.CanStart() {
		if st == Stopped {
			return refuse(ErrNotRunning, "cannot start a container that has stopped")
		}
		why := ErrRunning
		if st == Paused {
			why = ErrPaused
		}
		return refuse(why, "cannot start an already %s container", st)
	}
	var notify *net.UnixConn
	if c.state.Config.NotifySocket != "" {
		if notify, err = c.bindNotify(); err != nil {
			return err
		}
	}
	if err := c.openFifo(); err != nil {
		if notify != nil {
			notify.Close()
		}
		return err
	}
	log.Debug("exec.fifo read: the container's process runs", "id", c.ID, "pid", c.state.InitPid)
	// A poststart failure is only a warning: the process already runs.
	_ = c.runHooks(Running, log, hooks.Poststart)
	if notify != nil {
		// Waiting for READY=1 may take long: let kill and delete in meanwhile.
		lock.Unlock()
		return c.relayReady(notify)
	}
	return nil
}

// openFifo reads init's byte from exec.fifo and removes the fifo, which marks
// the container as started. A dying init is noticed through its pidfd instead
// of blocking forever in open.
func (c *Container) openFifo() error {
	// The pidfd first: once the fifo is open, init may write, exec a short
	// program that exits and be reaped (by a shim, a subreaper) before a
	// pidfd_open would find it.
	pidfd, err := unix.PidfdOpen(c.state.InitPid, 0)
	if err != nil {
		return refuse(ErrNotRunning, "cannot start a container that has stopped")
	}
	defer unix.Close(pidfd)
	path := filepath.Join(c.dir, state.FifoName)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 1)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		n, err := unix.Read(fd, buf)
		if n == 1 {
			if err := os.Remove(path); err != nil {
				return err
			}
			return waitExec(fd, pidfd)
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("read exec fifo", err)
		}
		// n == 0: init has not reopened its end yet (or closed it); EAGAIN:
		// opened but not written. Wait for data or for init's death.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 1); err != nil && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("poll", err)
		}
		// A short-lived program may write, exec and exit before we read:
		// only an exited init whose byte never arrived is a failure.
		if fds[1].Revents&unix.POLLIN != 0 && fds[0].Revents&unix.POLLIN == 0 {
			if n, _ := unix.Read(fd, buf); n == 1 {
				return os.Remove(path) // init is gone: nothing to wait for
			}
			return errors.New("container init exited before start")
		}
	}
	return errors.New("timed out waiting for container init to reach exec.fifo")
}

// waitExec waits until init's end of the fifo closes, which its execve does
// (or its death): from then on the user program runs, and poststart hooks
// see it running, as the spec orders.
func waitExec(fd, pidfd int) error {
	buf := make([]byte, 1)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		n, err := unix.Read(fd, buf)
		if n == 0 && err == nil {
			return nil
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("read exec fifo", err)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 100); err != nil && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("poll", err)
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			return nil
		}
	}
	return errors.New("timed out waiting for the container process to start")
}
