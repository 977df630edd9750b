// Package console owns the container's terminal: the pty pair made inside the
// container, handing its master to a client, and forwarding it in the foreground.
package console

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ptmxPath is resolved in the caller's mount namespace: after pivot_root it is
// the container's own /dev/ptmx, so the pty lives on the container's devpts.
const ptmxPath = "/dev/ptmx"

// Unix98 pty slaves use char majors 136..143 (UNIX98_PTY_SLAVE_MAJOR and the
// seven that follow it).
const (
	ptySlaveMajorFirst = 136
	ptySlaveMajorLast  = 143
)

// OpenPty opens a new pty pair. The slave is opened from the master with
// TIOCGPTPEER rather than by its /dev/pts/N path, so nothing in the container
// can swap that path for another file between the two opens.
func OpenPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open(ptmxPath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: ptmxPath, Err: err}
	}
	master = os.NewFile(uintptr(mfd), ptmxPath)
	defer func() {
		if err != nil {
			master.Close()
		}
	}()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, &os.PathError{Op: "ioctl TIOCSPTLCK", Path: ptmxPath, Err: err}
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		return nil, nil, &os.PathError{Op: "ioctl TIOCGPTN", Path: ptmxPath, Err: err}
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return nil, nil, &os.PathError{Op: "ioctl TIOCGPTPEER", Path: slavePath, Err: errno}
	}
	slave = os.NewFile(sfd, slavePath)
	var st unix.Stat_t
	if err := unix.Fstat(int(sfd), &st); err != nil {
		slave.Close()
		return nil, nil, &os.PathError{Op: "fstat", Path: slavePath, Err: err}
	}
	if major := unix.Major(st.Rdev); st.Mode&unix.S_IFMT != unix.S_IFCHR || major < ptySlaveMajorFirst || major > ptySlaveMajorLast {
		slave.Close()
		return nil, nil, fmt.Errorf("%s: not a devpts slave (mode %#o, device %d:%d)", slavePath, st.Mode, major, unix.Minor(st.Rdev))
	}
	return master, slave, nil
}

// SetSize sets the window size of the terminal f (either side of a pty).
func SetSize(f *os.File, rows, cols uint16) error {
	ws := &unix.Winsize{Row: rows, Col: cols}
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		return &os.PathError{Op: "ioctl TIOCSWINSZ", Path: f.Name(), Err: err}
	}
	return nil
}

// SetupControllingTerminal makes slave the controlling terminal of a new
// session led by the caller, and its stdin, stdout and stderr. A session
// leader cannot setsid again, so one that already leads its session (the
// nsexec child may) only takes the terminal.
func SetupControllingTerminal(slave *os.File) error {
	sid, err := unix.Getsid(0)
	if err != nil {
		return os.NewSyscallError("getsid", err)
	}
	if sid != unix.Getpid() {
		if _, err := unix.Setsid(); err != nil {
			return os.NewSyscallError("setsid", err)
		}
	}
	fd := int(slave.Fd())
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return &os.PathError{Op: "ioctl TIOCSCTTY", Path: slave.Name(), Err: err}
	}
	for i := 0; i <= 2; i++ {
		if fd == i {
			// dup3 refuses equal fds; the fd must still survive execve.
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
				return os.NewSyscallError("fcntl", err)
			}
			continue
		}
		if err := unix.Dup3(fd, i, 0); err != nil {
			return os.NewSyscallError("dup3", fmt.Errorf("%s onto fd %d: %w", slave.Name(), i, err))
		}
	}
	return nil
}
