package rootfs

import (
	"fmt"
	"os"
	"path/filepath"

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
// Host mounts outside the rootfs stay in the namespace, only unreachable by path.
func moveRoot(rootPath string) error {
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
