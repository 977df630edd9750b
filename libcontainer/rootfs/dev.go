package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// DefaultDevices are created in every container's /dev (runtime-spec config-linux.md).
var DefaultDevices = []configs.Device{
	{Type: 'c', Path: "/dev/null", Major: 1, Minor: 3, FileMode: 0o666},
	{Type: 'c', Path: "/dev/zero", Major: 1, Minor: 5, FileMode: 0o666},
	{Type: 'c', Path: "/dev/full", Major: 1, Minor: 7, FileMode: 0o666},
	{Type: 'c', Path: "/dev/random", Major: 1, Minor: 8, FileMode: 0o666},
	{Type: 'c', Path: "/dev/urandom", Major: 1, Minor: 9, FileMode: 0o666},
	{Type: 'c', Path: "/dev/tty", Major: 5, Minor: 0, FileMode: 0o666},
}

// devLinks are the /dev symlinks every container gets.
var devLinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
}

// setupDev creates the device nodes, /dev/ptmx and the standard symlinks. All
// paths are resolved in root, so an image whose /dev is a symlink cannot make
// us write on the host (CVE-2026-41579).
func (p *preparer) setupDev() error {
	devs := make([]configs.Device, 0, len(DefaultDevices)+len(p.cfg.Devices))
	seen := map[string]bool{}
	for _, d := range p.cfg.Devices {
		seen[sys.CleanPath(d.Path)] = true
	}
	for _, d := range DefaultDevices {
		if !seen[d.Path] {
			devs = append(devs, d)
		}
	}
	devs = append(devs, p.cfg.Devices...)
	for i := range devs {
		if err := p.createDevice(&devs[i]); err != nil {
			return fmt.Errorf("device %q: %w", devs[i].Path, err)
		}
	}

	dev, err := sys.MkdirAllInRoot(p.root, "/dev", 0o755)
	if err != nil {
		return err
	}
	defer dev.Close()
	if _, err := p.fds.CheckInside(p.rootPath, dev); err != nil {
		return err
	}
	// The devpts instance's ptmx, not the host's, must serve /dev/ptmx.
	if err := sys.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := sys.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
		return err
	}
	links := devLinks
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		if err := sys.Symlinkat(l[0], dev, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	return nil
}

// createDevice makes one node with mknod, or, where mknod is not permitted (a
// user namespace), bind-mounts the host's node onto an empty file.
func (p *preparer) createDevice(d *configs.Device) error {
	dest := sys.CleanPath(d.Path)
	if dest == "/" {
		return errors.New("empty device path")
	}
	var typ uint32
	switch d.Type {
	case 'c', 'u':
		typ = unix.S_IFCHR
	case 'b':
		typ = unix.S_IFBLK
	case 'p':
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("type %q: want c, u, b or p", d.Type)
	}
	dir, err := sys.MkdirAllInRoot(p.root, path.Dir(dest), 0o755)
	if err != nil {
		return err
	}
	defer dir.Close()
	if _, err := p.fds.CheckInside(p.rootPath, dir); err != nil {
		return err
	}
	name := path.Base(dest)
	rdev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	if typ == unix.S_IFIFO {
		// mknod ignores the numbers of a fifo: the node has rdev 0 whatever
		// the config says (runtime-tools' linux_devices gives its fifo 8:666).
		rdev = 0
	}
	err = sys.Mknodat(dir, name, typ|(d.FileMode&0o7777), rdev)
	switch {
	case errors.Is(err, unix.EEXIST):
		return nil
	case errors.Is(err, unix.EPERM):
		return bindDevice(dir, name, dest, typ, rdev)
	case err != nil:
		return err
	}
	// The directory may be a volume the host (or another container) writes
	// to: a symlink swapped in for the new node would take a chmod by name to
	// a host file. So the node is opened once, without following, checked to
	// be what mknodat made, and changed only through that handle.
	node, err := sys.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer node.Close()
	st, err := sys.Fstat(node)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != typ || st.Rdev != rdev {
		return fmt.Errorf("replaced after mknod by mode 0%o, rdev %d:%d: refusing to change it", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	// mknod obeys the umask.
	if err := sys.Fchmod(node, d.FileMode&0o7777); err != nil {
		return err
	}
	return sys.Fchown(node, int(d.UID), int(d.GID))
}

// bindDevice bind-mounts the host node at hostPath onto dir/name after checking
// that the host node is the device asked for.
func bindDevice(dir *os.File, name, hostPath string, typ uint32, rdev uint64) error {
	src, err := sys.OpenTree(nil, hostPath, unix.OPEN_TREE_CLONE)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := sys.Fstat(src)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != typ || st.Rdev != rdev {
		return fmt.Errorf("host %q is not the requested device %d:%d", hostPath, unix.Major(rdev), unix.Minor(rdev))
	}
	target, err := sys.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	defer target.Close()
	return sys.MoveMountOnto(src, target)
}

// MountConsole bind-mounts the pty slave onto /dev/console of the current root.
// A /dev/console that is a symlink is refused (CVE-2025-52565): the bind would
// land on whatever it points to.
func MountConsole(slave *os.File) error {
	st, err := sys.Fstat(slave)
	if err != nil {
		return err
	}
	// Unix98 pty slaves use majors 136-143.
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) < 136 || unix.Major(st.Rdev) > 143 {
		return fmt.Errorf("console %q is not a pty slave", slave.Name())
	}
	if err := sys.CheckFsMagic(slave, unix.DEVPTS_SUPER_MAGIC); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	dev, err := sys.MkdirAllInRoot(root, "/dev", 0o755)
	if err != nil {
		return err
	}
	defer dev.Close()

	target, err := sys.Openat(dev, "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY, 0o600)
	if errors.Is(err, unix.EEXIST) {
		target, err = sys.Openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW, 0)
		if err == nil {
			var cst unix.Stat_t
			if cst, err = sys.Fstat(target); err == nil && cst.Mode&unix.S_IFMT == unix.S_IFLNK {
				target.Close()
				return errors.New("/dev/console is a symlink: refusing to mount the console over it")
			}
		}
	}
	if err != nil {
		return err
	}
	defer target.Close()
	mnt, err := sys.OpenTree(slave, "", unix.OPEN_TREE_CLONE|unix.AT_EMPTY_PATH)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return sys.MoveMountOnto(mnt, target)
}
