package seccomp

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SendNotifyFd connects to the seccomp agent at listenerPath and sends fd with
// SCM_RIGHTS together with state, which the caller marshals from a
// runtime-spec ContainerProcessState (fds: ["seccompFd"], pid, metadata,
// state), in one sendmsg, as the runtime-spec requires. fd stays open.
func SendNotifyFd(listenerPath string, fd int, state []byte) error {
	if len(state) == 0 {
		return fmt.Errorf("seccomp: listener %s: empty container process state", listenerPath)
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seccomp: listener %s: %w", listenerPath, os.NewSyscallError("socket", err))
	}
	defer unix.Close(sock)
	if err := connect(sock, &unix.SockaddrUnix{Name: listenerPath}); err != nil {
		return fmt.Errorf("seccomp: listener %s: %w", listenerPath, os.NewSyscallError("connect", err))
	}
	n, err := sendmsg(sock, state, unix.UnixRights(fd))
	if err != nil {
		return fmt.Errorf("seccomp: listener %s: %w", listenerPath, os.NewSyscallError("sendmsg", err))
	}
	// A stream socket may take a large state in pieces; the fd travelled
	// with the first one.
	for n < len(state) {
		m, err := sendmsg(sock, state[n:], nil)
		if err != nil {
			return fmt.Errorf("seccomp: listener %s: %w", listenerPath, os.NewSyscallError("sendmsg", err))
		}
		n += m
	}
	return nil
}

func connect(sock int, sa unix.Sockaddr) error {
	for {
		err := unix.Connect(sock, sa)
		if err != unix.EINTR {
			return err
		}
	}
}

func sendmsg(sock int, p, oob []byte) (int, error) {
	for {
		n, err := unix.SendmsgN(sock, p, oob, nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			return n, err
		}
	}
}
