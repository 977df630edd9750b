package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// Pivot makes cfg.Rootfs the root of the process and detaches the old root.
// With cfg.NoPivot it moves the rootfs mount onto / and chroots instead.
func Pivot(cfg *configs.Config) error {
	rootPath, err := filepath.EvalSymlinks(cfg.Rootfs)
	if err != nil {
		return fmt.Errorf("rootfs %q: %w", cfg.Rootfs, err)
	}
	if cfg.NoPivot {
		err = moveRoot(rootPath)
	} else {
		err = pivotRoot(rootPath)
	}
	if err != nil {
		return err
	}
	// Applied only now so that a shared propagation is set on the container's
	// root, never on a mount the host shares; private was handled in Prepare,
	// unbindable waits for Finalize.
	if cfg.RootPropagation != 0 && cfg.RootPropagation&(unix.MS_PRIVATE|unix.MS_UNBINDABLE) == 0 {
		if err := sys.Mount("", "/", "", uintptr(cfg.RootPropagation), ""); err != nil {
			return fmt.Errorf("rootPropagation 0x%x: %w", cfg.RootPropagation, err)
		}
	}
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// pivotRoot uses pivot_root(".", "."): the old root is stacked under the new
// one and detached below, so no put_old directory is needed in the image.
func pivotRoot(rootPath string) error {
	oldRoot, err := os.OpenFile("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer oldRoot.Close()
	newRoot, err := os.OpenFile(rootPath, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer newRoot.Close()
	if err := unix.Fchdir(int(newRoot.Fd())); err != nil {
		return &os.PathError{Op: "fchdir", Path: rootPath, Err: err}
	}
	if err := sys.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot to %q: %w", rootPath, err)
	}
	if err := unix.Fchdir(int(oldRoot.Fd())); err != nil {
		return &os.PathError{Op: "fchdir", Path: "old root", Err: err}
	}
	// Make the old root a slave first so that detaching it cannot propagate
	// unmounts to a peer group shared with the host.
	if err := sys.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("old root: %w", err)
	}
	if err := sys.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("old root: %w", err)
	}
	return nil
}

// moveRoot is the no-pivot path (e.g. a ramfs root, where pivot_root fails).
// Host mounts outside the rootfs stay in the namespace, only unreachable by
// path, except procfs and sysfs (see hideHostProcfs).
func moveRoot(rootPath string) error {
	if err := hideHostProcfs(rootPath); err != nil {
		return err
	}
	if err := unix.Chdir(rootPath); err != nil {
		return &os.PathError{Op: "chdir", Path: rootPath, Err: err}
	}
	if err := sys.Mount(rootPath, "/", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: rootPath, Err: err}
	}
	return nil
}

// hideHostProcfs removes from the container's mount namespace the procfs
// and sysfs mounts outside the rootfs, as runc 1.4 does before its chroot.
// Unreachable by path, they would still count for the kernel: it lets a
// user namespace mount a new procfs or sysfs only where one is already fully
// visible in the namespace, and the host's unmasked /proc would be that one.
// Each is made a slave first, so the unmount never propagates to the host; a
// mount the kernel locks (user namespace) is covered with a tmpfs instead.
func hideHostProcfs(rootPath string) error {
	infos, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		inRoot := i.Mountpoint == rootPath || strings.HasPrefix(i.Mountpoint, rootPath+"/")
		return (i.FSType != "proc" && i.FSType != "sysfs") || inRoot, false
	})
	if err != nil {
		return fmt.Errorf("host procfs and sysfs mounts: %w", err)
	}
	for _, i := range infos {
		p := i.Mountpoint
		err := unix.Mount("", p, "", unix.MS_SLAVE|unix.MS_REC, "")
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
			continue // gone with a mount above it, detached earlier
		}
		if err != nil {
			return &os.PathError{Op: "make slave", Path: p, Err: err}
		}
		err = unix.Unmount(p, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		}
		if err != nil {
			return &os.PathError{Op: "hide host " + i.FSType, Path: p, Err: err}
		}
	}
	return nil
}
