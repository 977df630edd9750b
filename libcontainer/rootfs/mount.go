package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// procAllowed are the only destinations inside /proc a mount may target: lxcfs
// overlays them. Anything else could redirect the runtime's own procfs writes
// (CVE-2019-16884, CVE-2025-52881).
var procAllowed = map[string]bool{
	"/proc/cpuinfo":                true,
	"/proc/diskstats":              true,
	"/proc/meminfo":                true,
	"/proc/stat":                   true,
	"/proc/swaps":                  true,
	"/proc/uptime":                 true,
	"/proc/loadavg":                true,
	"/proc/slabinfo":               true,
	"/proc/sys/kernel/ns_last_pid": true,
}

// checkProcDest refuses mounts on or inside /proc, except procfs itself (or a
// bind of a procfs) on /proc and the lxcfs allowlist.
func checkProcDest(dest string, m *configs.Mount, srcMagic int64) error {
	switch {
	case dest == "/proc":
		if m.Device == "proc" || (m.IsBind() && srcMagic == unix.PROC_SUPER_MAGIC) {
			return nil
		}
		return fmt.Errorf("%q cannot be mounted on /proc: only procfs may be", m.Device)
	case strings.HasPrefix(dest, "/proc/"):
		if procAllowed[dest] {
			return nil
		}
		return fmt.Errorf("destination %q is inside /proc and not in the lxcfs allowlist", dest)
	}
	return nil
}

// mount performs one cfg.Mounts entry: build a detached mount, open (or create)
// the mountpoint in root, check where it really is, then attach by fd.
func (p *preparer) mount(m *configs.Mount) error {
	dest := sys.CleanPath(m.Destination)
	if dest == "/" {
		return &onRootError{rootfs: p.rootPath}
	}
	if m.Flags&unix.MS_REMOUNT != 0 {
		return p.remount(m, dest)
	}
	if m.Device == "cgroup" || m.Device == "cgroup2" {
		return p.mountCgroup(m, dest)
	}
	if err := checkProcDest(dest, m, 0); err != nil && !m.IsBind() {
		return err
	}

	mnt, isDir, hostBind, err := p.newMount(m)
	if err != nil {
		return err
	}
	defer func() {
		if mnt != nil {
			mnt.Close()
		}
	}()
	if m.IsBind() {
		st, err := sys.Fstatfs(mnt)
		if err != nil {
			return err
		}
		if err := checkProcDest(dest, m, int64(st.Type)); err != nil {
			return err
		}
	}

	target, err := p.mountpoint(m, dest, isDir)
	if err != nil {
		return err
	}
	defer target.Close()

	if m.Extensions&configs.EXT_COPYUP != 0 {
		if err := copyUp(target, mnt); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
	}
	attr := mountAttr(m.Flags, m.ClearedFlags)
	if m.IsBind() && m.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 {
		// runc 1.4 remounts such a bind with exactly its flags: whatever of
		// the source's ro/nosuid/nodev/noexec/nosymfollow the options do not
		// name is cleared; the atime mode is kept unless named (the kernel's
		// rule for a remount).
		const settable = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOSYMFOLLOW
		attr.Attr_clr |= settable &^ attr.Attr_set
	}
	if (m.IsBind() || hostBind) && inUserNS() {
		if err := keepLocked(mnt, attr); err != nil {
			return err
		}
	}
	deferRO := dest == "/dev" && !m.IsBind() && attr.Attr_set&unix.MOUNT_ATTR_RDONLY != 0
	if deferRO {
		attr.Attr_set &^= unix.MOUNT_ATTR_RDONLY
	}
	// Bind flags apply to the top mount only, as runc's remount (whose MS_REC
	// the kernel ignores); "rro" and friends are RecAttrSet, and read-only
	// rbinds are handled by recursiveAttrs.
	recursiveAttr := false
	if m.Device == "sysfs" && hostBind {
		// The host's /sys stands in for a sysfs of our own: recursively
		// read-only, so none of its submounts is writable either.
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
		recursiveAttr = true
	}
	if err := setattr(mnt, recursiveAttr, attr); err != nil {
		return err
	}
	if err := recursiveAttrs(mnt, m); err != nil {
		return err
	}
	if err := sys.MoveMountOnto(mnt, target); err != nil {
		return err
	}
	if err := propagate(mnt, m.PropagationFlags); err != nil {
		return err
	}
	if dest == "/dev" && !m.IsBind() {
		p.devMnt, p.devRO = mnt, deferRO
		mnt = nil // kept open for Prepare's final read-only step
	}
	return nil
}

// hostFallback is the host directory bound in place of a filesystem the
// container may not mount itself, as runc does: sysfs belongs to the network
// namespace and mqueue to the ipc namespace, so a container that shares the
// host's (or, in a user namespace, does not own its) gets the host's view.
var hostFallback = map[string]string{"sysfs": "/sys", "mqueue": "/dev/mqueue"}

// newMount returns a detached mount for m, whether its mountpoint is a
// directory, and whether a host directory was bound in place of a new
// filesystem.
func (p *preparer) newMount(m *configs.Mount) (mnt *os.File, isDir, hostBind bool, err error) {
	switch {
	case m.IDMapped:
		mnt = p.idmapped[p.cur]
		delete(p.idmapped, p.cur)
		if mnt == nil {
			err = errors.New("idmapped mount: the runtime made none for it")
		}
	case m.IsBind():
		mnt, err = bindTree(m.Source, m.Flags&unix.MS_REC != 0)
	case m.Device == "sysfs" && !p.cfg.HasNamespace(configs.NEWNET):
		mnt, err = bindTree("/sys", true)
		hostBind = true
	case m.Device == "proc" && len(p.procCtx) > 0:
		ctx := p.procCtx[0]
		p.procCtx = p.procCtx[1:]
		mnt, err = sys.NewFsMountFrom(ctx, m.Device, m.Source, fsOptions(m, p.mountLabel))
	default:
		opts := fsOptions(m, p.mountLabel)
		if m.Device == "tmpfs" {
			opts = p.tmpfsMode(m, opts)
		}
		mnt, err = sys.NewFsMount(m.Device, m.Source, opts)
		if err == nil && m.Device == "mqueue" && p.mountLabel != "" {
			err = labelRoot(mnt, p.mountLabel)
		}
		if src := hostFallback[m.Device]; src != "" && errors.Is(err, unix.EPERM) && inUserNS() {
			mnt, err = bindTree(src, m.Device == "sysfs")
			if err != nil {
				err = fmt.Errorf("%s refused in the user namespace, and so is a bind of the host's %s: %w", m.Device, src, err)
			}
			hostBind = true
		}
	}
	if err != nil {
		return nil, false, false, err
	}
	st, err := sys.Fstat(mnt)
	if err != nil {
		mnt.Close()
		return nil, false, false, err
	}
	return mnt, st.Mode&unix.S_IFMT == unix.S_IFDIR, hostBind, nil
}

// tmpfsMode gives a tmpfs without a mode= of its own the mode of the
// directory it covers, as runc 1.4 does, so that covering a 0750 directory
// does not open it to everyone; a new directory keeps tmpfs's 1777.
func (p *preparer) tmpfsMode(m *configs.Mount, opts []sys.FsOption) []sys.FsOption {
	for _, o := range opts {
		if o.Key == "mode" {
			return opts
		}
	}
	f, err := sys.OpenInRoot(p.root, sys.CleanPath(m.Destination))
	if err != nil {
		return opts // made by mountpoint, or its error reported there
	}
	defer f.Close()
	st, err := sys.Fstat(f)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return opts
	}
	mode := sys.FsOption{Key: "mode", Value: fmt.Sprintf("%04o", st.Mode&0o7777), HasValue: true}
	return append([]sys.FsOption{mode}, opts...)
}

// bindTree clones the host mount (tree) at source, detached.
func bindTree(source string, recursive bool) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return sys.OpenTree(nil, source, flags)
}

// mountpoint opens the destination inside the root (creating it as a directory
// or a file), and checks that the handle really is inside the rootfs.
func (p *preparer) mountpoint(m *configs.Mount, dest string, isDir bool) (*os.File, error) {
	if m.Device == "proc" || m.Device == "sysfs" {
		// A symlinked /proc or /sys would put procfs where the image chooses (CVE-2019-19921).
		f, err := sys.OpenNoFollowInRoot(p.root, dest)
		switch {
		case err == nil:
			st, err := sys.Fstat(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return nil, &runcError{fmt.Sprintf("filesystem %q must be mounted on ordinary directory", m.Device), fmt.Sprintf("%q is not a directory", dest)}
			}
		case !isNotExist(err):
			return nil, err
		}
	}
	var (
		target *os.File
		err    error
	)
	if isDir {
		target, err = sys.MkdirAllInRoot(p.root, dest, 0o755)
	} else {
		target, err = sys.CreateFileInRoot(p.root, dest, 0o644)
	}
	if err != nil {
		return nil, err
	}
	rel, err := p.checkTarget(target)
	switch {
	case err != nil:
	case (m.Device == "proc" || m.Device == "sysfs") && rel != dest:
		// The check above saw a directory, but a shared volume may have
		// swapped a symlink in before the mkdir resolved it: judge the handle.
		err = &runcError{fmt.Sprintf("filesystem %q must be mounted on ordinary directory", m.Device), fmt.Sprintf("%q resolved to %q", dest, rel)}
	default:
		// dest may have reached /proc through a symlink: check what it resolved to.
		err = checkProcDest(rel, m, procMagicIfBind(m, rel))
	}
	if err != nil {
		target.Close()
		return nil, err
	}
	return target, nil
}

// onRootError is a mount whose destination resolves to the rootfs itself
// (`data -> /` in the image): stacked over the root, the mount would become
// the container's "/" at pivot_root and hide every mount made below it, /proc,
// /sys, /dev and the masks included.
type onRootError struct{ rootfs string }

// Error keeps runc's wording, which clients and users already search for.
func (e *onRootError) Error() string {
	return fmt.Sprintf("mountpoint %q is on the top of rootfs %q", e.rootfs, e.rootfs)
}

// checkTarget verifies that target, a handle just resolved in root, is below
// the rootfs and not the rootfs itself, and returns its path relative to root.
func (p *preparer) checkTarget(target *os.File) (string, error) {
	rel, err := p.fds.CheckInside(p.rootPath, target)
	if err != nil {
		return "", err
	}
	if rel == "/" {
		return "", &onRootError{rootfs: p.rootPath}
	}
	return rel, nil
}

// procMagicIfBind lets a procfs bind onto /proc pass the resolved-path check:
// the source was already verified before the mountpoint was opened.
func procMagicIfBind(m *configs.Mount, rel string) int64 {
	if m.IsBind() && rel == "/proc" && sys.CleanPath(m.Destination) == "/proc" {
		return unix.PROC_SUPER_MAGIC
	}
	return 0
}

// msToAttr maps mount(2) per-mount flags to their MOUNT_ATTR_* bits.
var msToAttr = []struct {
	ms   int
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
	{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// mountAttr converts set and cleared MS_* flags to a mount_setattr request.
func mountAttr(set, cleared int) *unix.MountAttr {
	a := &unix.MountAttr{}
	for _, f := range msToAttr {
		if set&f.ms != 0 {
			a.Attr_set |= f.attr
		} else if cleared&f.ms != 0 {
			a.Attr_clr |= f.attr
		}
	}
	// The atime mode is one field: clearing the whole mask selects the new value.
	switch {
	case set&unix.MS_NOATIME != 0:
		a.Attr_clr |= unix.MOUNT_ATTR__ATIME
		a.Attr_set |= unix.MOUNT_ATTR_NOATIME
	case set&unix.MS_STRICTATIME != 0:
		a.Attr_clr |= unix.MOUNT_ATTR__ATIME
		a.Attr_set |= unix.MOUNT_ATTR_STRICTATIME
	case set&unix.MS_RELATIME != 0:
		a.Attr_clr |= unix.MOUNT_ATTR__ATIME
		a.Attr_set |= unix.MOUNT_ATTR_RELATIME
	}
	return a
}

func setattr(mnt *os.File, recursive bool, a *unix.MountAttr) error {
	if a.Attr_set == 0 && a.Attr_clr == 0 {
		return nil
	}
	return sys.MountSetattr(mnt, recursive, a)
}

// keepLocked drops from a.Attr_clr the flags the source mount has: in a user
// namespace those are locked and clearing them fails with EPERM. runc keeps them
// the same way, by OR-ing statfs flags into its remount.
func keepLocked(mnt *os.File, a *unix.MountAttr) error {
	st, err := sys.Fstatfs(mnt)
	if err != nil {
		return err
	}
	locked := map[int64]uint64{
		unix.ST_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.ST_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.ST_NODEV: unix.MOUNT_ATTR_NODEV, unix.ST_NOEXEC: unix.MOUNT_ATTR_NOEXEC,
	}
	for st1, attr := range locked {
		if st.Flags&st1 != 0 {
			a.Attr_clr &^= attr
		}
	}
	return nil
}

// recursiveAttrs applies m's r* attributes ("rro", "rnosuid"...) to every
// mount of the tree, and makes a read-only rbind of the kernel's own trees
// (sysfs, procfs) read-only all the way down.
//
// mount(2) makes "rbind,ro" read-only at the top only; runc keeps that
// meaning (it offers "rro" for the rest), and so do Kubernetes' read-only
// volumes, whose submounts (a tmpfs mounted inside, say) stay writable. But
// the submounts of /sys are the host's kernel interfaces: `spec --rootless`
// binds /sys "rbind,ro", which would leave /sys/fs/cgroup/<controller>
// writable, and the container could make cgroups on the host. So a
// read-only rbind whose source is sysfs or procfs is read-only as a whole;
// an explicit "rrw" on the same entry still wins, and mounts later entries
// place inside the tree keep their own flags.
func recursiveAttrs(mnt *os.File, m *configs.Mount) error {
	set, clr := m.RecAttrSet, m.RecAttrClr
	if m.IsBind() && m.Flags&unix.MS_REC != 0 && m.Flags&unix.MS_RDONLY != 0 && clr&unix.MOUNT_ATTR_RDONLY == 0 && kernelTree(mnt) {
		set |= unix.MOUNT_ATTR_RDONLY
	}
	if set == 0 && clr == 0 {
		return nil
	}
	if err := sys.MountSetattr(mnt, true, &unix.MountAttr{Attr_set: set, Attr_clr: clr}); err != nil {
		return fmt.Errorf("recursive attributes: %w", err)
	}
	return nil
}

// kernelTree reports whether the mount at mnt is sysfs or procfs, whose
// submounts are the host kernel's interfaces. Unknown counts as one: a
// stricter mount is the safe mistake.
func kernelTree(mnt *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(mnt.Fd()), &st); err != nil {
		return true
	}
	return st.Type == unix.SYSFS_MAGIC || st.Type == unix.PROC_SUPER_MAGIC
}

// propagate applies each propagation flag after the mount is attached.
func propagate(mnt *os.File, flags []int) error {
	for _, f := range flags {
		a := &unix.MountAttr{Propagation: uint64(f &^ unix.MS_REC)}
		if err := sys.MountSetattr(mnt, f&unix.MS_REC != 0, a); err != nil {
			return fmt.Errorf("propagation 0x%x: %w", f, err)
		}
	}
	return nil
}

// sbFlags are MS_* flags that belong to the superblock, passed to fsconfig.
// MS_SILENT has no fsconfig key (tmpfs refuses "silent"): it only quietens
// mount(2)'s messages in the kernel log, and fsopen's go to the context's own
// log, which we read. "mand" is accepted and ignored by kernels since 5.15;
// it is passed on all the same so the kernel, not ocirun, decides.
var sbFlags = []struct {
	ms  int
	key string
}{
	{unix.MS_SYNCHRONOUS, "sync"},
	{unix.MS_DIRSYNC, "dirsync"},
	{unix.MS_LAZYTIME, "lazytime"},
	{unix.MS_MANDLOCK, "mand"},
}

// fsOptions turns m's data string and superblock flags into fsconfig
// options, with the SELinux context of a filesystem that takes one.
func fsOptions(m *configs.Mount, mountLabel string) []sys.FsOption {
	var opts []sys.FsOption
	for _, f := range sbFlags {
		if m.Flags&f.ms != 0 {
			opts = append(opts, sys.FsOption{Key: f.key})
		}
	}
	for _, o := range splitData(m.Data) {
		k, v, ok := strings.Cut(o, "=")
		// mount(2) data quotes values with commas (SELinux contexts);
		// fsconfig takes the bare value.
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		opts = append(opts, sys.FsOption{Key: k, Value: v, HasValue: ok})
	}
	if mountLabel != "" && labelable[m.Device] {
		opts = append(opts, sys.FsOption{Key: "context", Value: mountLabel, HasValue: true})
	}
	return opts
}

// splitData splits a mount data string on commas, keeping escaped commas
// (overlay paths) and commas inside double quotes (SELinux contexts).
func splitData(data string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\\' && i+1 < len(data):
			cur.WriteByte(c)
			i++
			cur.WriteByte(data[i])
			continue
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// attachNew mounts a fresh fstype at dest (a directory in root) with the given flags.
func (p *preparer) attachNew(fstype, source, dest string, opts []sys.FsOption, flags int) (*os.File, error) {
	mnt, err := sys.NewFsMount(fstype, source, opts)
	if err != nil {
		return nil, err
	}
	if err := p.attach(mnt, dest, mountAttr(flags, 0), false); err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// attach sets attr on the detached mnt and moves it onto the directory dest in root.
func (p *preparer) attach(mnt *os.File, dest string, attr *unix.MountAttr, recursive bool) error {
	target, err := sys.MkdirAllInRoot(p.root, dest, 0o755)
	if err != nil {
		return err
	}
	defer target.Close()
	if _, err := p.checkTarget(target); err != nil {
		return err
	}
	if attr.Attr_set != 0 || attr.Attr_clr != 0 {
		if err := sys.MountSetattr(mnt, recursive, attr); err != nil {
			return err
		}
	}
	return sys.MoveMountOnto(mnt, target)
}
