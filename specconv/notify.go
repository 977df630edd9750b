package specconv

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// addNotifySocket passes the caller's NOTIFY_SOCKET through, as runc does
// (a systemd unit of Type=notify, podman --sdnotify=container): the
// runtime's notify directory is bound read-only over the directory of the
// socket's path inside the container, and the process's NOTIFY_SOCKET
// points there. The runtime binds the socket itself at start, and relays
// READY=1 to the caller's.
func addNotifySocket(opts Options, c *configs.Config, ps *problem.List) {
	if opts.NotifySocket == "" {
		return
	}
	if !filepath.IsAbs(opts.NotifySocket) {
		ps.Errorf(fmt.Sprintf("NOTIFY_SOCKET %q", opts.NotifySocket), opts.NotifySocket, "NOTIFY_SOCKET in the environment must be an absolute path, or unset", "must be an absolute path")
		return
	}
	if !filepath.IsAbs(opts.NotifyDir) {
		ps.Errorf(fmt.Sprintf("notify directory %q", opts.NotifyDir), opts.NotifyDir, "--root must be an absolute path", "must be an absolute path")
		return
	}
	c.Mounts = append(c.Mounts, configs.Mount{
		Source:      opts.NotifyDir,
		Destination: filepath.Dir(opts.NotifySocket),
		Device:      "bind",
		Flags:       unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY,
	})
	env := c.Process.Env[:0:0]
	for _, kv := range c.Process.Env {
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	c.Process.Env = append(env, "NOTIFY_SOCKET="+opts.NotifySocket)
	c.NotifySocket = opts.NotifySocket
}
