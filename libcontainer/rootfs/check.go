package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// ErrCannotCheck is CheckMount's answer where fsopen(2) is not allowed (no
// CAP_SYS_ADMIN): the mount was not checked, which is not a problem in it.
var ErrCannotCheck = errors.New("fsopen needs CAP_SYS_ADMIN")

// MountError is a filesystem type or option that CheckMount found refused.
type MountError struct {
	Option string // the refused option as in the mount's options; "" for the type
	Err    error  // the syscall's error
	Log    string // the filesystem's own message, if it gave one
}

func (e *MountError) Error() string {
	msg := e.Err.Error()
	if e.Log != "" {
		msg = e.Log
	}
	if e.Option == "" {
		return msg
	}
	return fmt.Sprintf("%q: %s", e.Option, msg)
}

func (e *MountError) Unwrap() error { return e.Err }

// CheckMount opens a filesystem context of m's type (fsopen loads its
// module as mount does) and sets each of m's superblock options on it, the
// way Prepare does, but never creates the superblock: the context is
// discarded, so nothing is mounted. Bind mounts, remounts and the mounts
// Prepare makes its own way (cgroup, cgroup2, and sysfs without a network
// namespace of the container's own, a bind of the host's /sys) are not
// checked here.
func CheckMount(m *configs.Mount, netns bool) error {
	if m.IsBind() || m.Flags&unix.MS_REMOUNT != 0 || m.Device == "cgroup" || m.Device == "cgroup2" || (m.Device == "sysfs" && !netns) {
		return nil
	}
	fd, err := unix.Fsopen(m.Device, unix.FSOPEN_CLOEXEC)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Fsopen(m.Device, unix.FSOPEN_CLOEXEC)
	}
	switch {
	case errors.Is(err, unix.EPERM):
		return ErrCannotCheck
	case errors.Is(err, unix.ENODEV):
		return &MountError{Err: fmt.Errorf("unknown filesystem type %q (not in /proc/filesystems, and no module provides it)", m.Device)}
	case err != nil:
		return &MountError{Err: os.NewSyscallError("fsopen", err)}
	}
	defer unix.Close(fd)
	for _, o := range fsOptions(m, "") {
		if o.HasValue {
			err = unix.FsconfigSetString(fd, o.Key, o.Value)
		} else {
			err = unix.FsconfigSetFlag(fd, o.Key)
		}
		if err != nil {
			opt := o.Key
			if o.HasValue {
				opt += "=" + o.Value
			}
			return &MountError{Option: opt, Err: os.NewSyscallError("fsconfig", err), Log: contextLog(fd)}
		}
	}
	return nil
}

// contextLog reads the filesystem context's messages: "e tmpfs: Bad value
// for 'size'" becomes "tmpfs: Bad value for 'size'".
func contextLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 8 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msg := strings.TrimSpace(string(buf[:n]))
		// Each message starts with its level: e(rror), w(arning), i(nfo).
		if len(msg) > 2 && msg[1] == ' ' {
			msg = msg[2:]
		}
		msgs = append(msgs, msg)
	}
	return strings.Join(msgs, "; ")
}
