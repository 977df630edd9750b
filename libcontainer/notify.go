package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// sd_notify passthrough, as runc does it: when ocirun runs with NOTIFY_SOCKET
// (a systemd unit of Type=notify, or podman --sdnotify=container), the
// container gets a socket of ours at the same path, and `start` relays the
// container's READY=1 to the caller's socket once it arrives.

const notifyDir = "notify"

// NotifyDir is the host directory that holds the container's end of the
// sd_notify passthrough; specconv binds it into the container.
func (r *Root) NotifyDir(id string) string { return filepath.Join(r.dir(id), notifyDir) }

// bindNotify listens on the socket the container will write to; it must
// exist before the container's process starts.
func (c *Container) bindNotify() (*net.UnixConn, error) {
	path := filepath.Join(c.dir, notifyDir, "notify.sock")
	_ = os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	// The container's user may not be root: anyone may write to it.
	if err := os.Chmod(path, 0o777); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// relayReady waits for READY=1 from the container and sends it, with the
// container's host pid as MAINPID, to the caller's socket. It gives up when
// the container's init exits first.
func (c *Container) relayReady(conn *net.UnixConn) error {
	defer conn.Close()
	buf := make([]byte, 4096)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if !c.state.InitAlive() {
					return errors.New("container exited before it sent READY=1")
				}
				continue
			}
			return err
		}
		for _, line := range bytes.Split(buf[:n], []byte("\n")) {
			if bytes.Equal(bytes.TrimSpace(line), []byte("READY=1")) {
				return sendNotify(c.state.Config.NotifySocket, "READY=1\nMAINPID="+strconv.Itoa(c.state.InitPid)+"\n")
			}
		}
	}
}

func sendNotify(path, msg string) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: %w", path, err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte(msg))
	return err
}
