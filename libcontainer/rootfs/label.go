package rootfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// labelable lists the filesystems that take a context= option when they are
// made: tmpfs, devpts and overlay get the container's mount label that way.
// proc, sysfs and cgroup keep their kernel labels (runc leaves them alone
// too), and a bind mount shows the source's own labels.
var labelable = map[string]bool{"tmpfs": true, "devpts": true, "overlay": true}

// labelRoot gives an mqueue mount the container's label on its root, as runc
// does: mqueue's superblock belongs to the IPC namespace and exists before
// the mount, so SELinux refuses a context= for it ("same superblock,
// different security settings").
func labelRoot(mnt *os.File, label string) error {
	fd, err := unix.Openat(int(mnt.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "mqueue root", Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, "security.selinux", []byte(label), 0); err != nil {
		return fmt.Errorf("linux.mountLabel %q on mqueue: %w", label, os.NewSyscallError("fsetxattr", err))
	}
	return nil
}
