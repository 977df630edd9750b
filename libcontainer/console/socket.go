package console

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// maxNameLen bounds the name that travels with the fd; clients read it into a
// fixed buffer (containerd's and conmon's recvfd use 4096 bytes).
const maxNameLen = 4096

// SendToSocket connects to the unix socket at socketPath (runc's
// --console-socket) and sends master over it.
func SendToSocket(socketPath string, master *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	if err := Send(conn, master); err != nil {
		return fmt.Errorf("console socket %s: %w", socketPath, err)
	}
	return nil
}

// Send sends f with SCM_RIGHTS in one message whose data is f's name, the wire
// format console-socket clients expect. The init uses it on a connection its
// parent opened, since the socket path may not resolve inside the container.
func Send(conn *net.UnixConn, f *os.File) error {
	name := f.Name()
	if name == "" {
		// The data part must not be empty: a zero-length stream message
		// carries no control data either.
		name = "console"
	}
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	rights := unix.UnixRights(int(f.Fd()))
	n, oobn, err := conn.WriteMsgUnix([]byte(name), rights, nil)
	if err != nil {
		return fmt.Errorf("send %s: %w", f.Name(), err)
	}
	if n != len(name) || oobn != len(rights) {
		return fmt.Errorf("send %s: short write (%d of %d bytes, %d of %d control bytes)", f.Name(), n, len(name), oobn, len(rights))
	}
	return nil
}

// ReceiveFromSocket reads one message sent by Send and returns the fd it
// carried, named with the message's data. The fd is close-on-exec.
func ReceiveFromSocket(conn *net.UnixConn) (*os.File, error) {
	buf := make([]byte, maxNameLen)
	// Room for a few fds, so a peer sending more is detected and its fds
	// closed instead of truncated and leaked.
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("receive console: %w", err)
	}
	var fds []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive console: parse control message: %w", err)
	}
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			closeAll(fds)
			return nil, fmt.Errorf("receive console: %w", err)
		}
		fds = append(fds, got...)
	}
	if flags&unix.MSG_CTRUNC != 0 {
		closeAll(fds)
		return nil, fmt.Errorf("receive console: control message truncated")
	}
	if len(fds) != 1 {
		closeAll(fds)
		return nil, fmt.Errorf("receive console: got %d fds, want 1", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
