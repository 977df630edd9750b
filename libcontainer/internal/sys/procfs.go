package sys

import (
	"fmt"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// OpenProcSys opens /proc/sys/<rel> with flags through a private procfs
// handle, so a mount placed over /proc (or inside it) cannot redirect the
// write (CVE-2019-16884, CVE-2025-52881). rel must stay below /proc/sys.
func OpenProcSys(rel string, flags int) (*os.File, error) {
	clean := path.Clean("/" + rel)
	if clean == "/" || clean != "/"+rel || strings.Contains(rel, "..") {
		return nil, fmt.Errorf("/proc/sys/%s: path leaves /proc/sys or is not clean", rel)
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return nil, fmt.Errorf("open procfs handle: %w", err)
	}
	defer proc.Close()
	h, err := proc.OpenRoot("sys" + clean)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if err := CheckFsMagic(h, unix.PROC_SUPER_MAGIC); err != nil {
		return nil, err
	}
	f, err := pathrs.Reopen(h, flags|unix.O_CLOEXEC)
	if err != nil {
		// Reopening goes through /proc/thread-self/fd, which a caller outside
		// the pid namespace of the procfs it sees does not have there, nor
		// can it mount a procfs of its own if it is root of a user namespace
		// only: the parent's thread in a container's namespaces under
		// rootless podman. Open the file itself then, from the verified
		// /proc/sys, crossing no mount and following no link.
		if f2, err2 := openProcSysBeneath(proc, clean[1:], flags); err2 == nil {
			return f2, nil
		}
		return nil, fmt.Errorf("reopen /proc/sys%s: %w", clean, err)
	}
	return f, nil
}

func openProcSysBeneath(proc *procfs.Handle, rel string, flags int) (*os.File, error) {
	dir, err := proc.OpenRoot("sys")
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	if err := CheckFsMagic(dir, unix.PROC_SUPER_MAGIC); err != nil {
		return nil, err
	}
	fd, err := unix.Openat2(int(dir.Fd()), rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: "/proc/sys/" + rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), "/proc/sys/"+rel)
	if err := CheckFsMagic(f, unix.PROC_SUPER_MAGIC); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CheckFsMagic verifies that f lives on a filesystem with the given statfs magic.
func CheckFsMagic(f *os.File, magic int64) error {
	st, err := Fstatfs(f)
	if err != nil {
		return err
	}
	if int64(st.Type) != magic {
		return fmt.Errorf("%q is on filesystem 0x%x, want 0x%x", f.Name(), st.Type, magic)
	}
	return nil
}

// OpenProcPid opens /proc/<pid>/<rel> with flags through a private procfs
// handle, reopened by fd: no mount over /proc or inside it can redirect it.
func OpenProcPid(pid int, rel string, flags int) (*os.File, error) {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return nil, fmt.Errorf("open procfs handle: %w", err)
	}
	defer proc.Close()
	var h *os.File
	if pid == os.Getpid() {
		h, err = proc.OpenSelf(rel)
	} else {
		h, err = proc.OpenPid(pid, rel)
	}
	if err != nil {
		return nil, err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, flags|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("reopen /proc/%d/%s: %w", pid, rel, err)
	}
	return f, nil
}
