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
		return nil, fmt.Errorf("reopen /proc/sys%s: %w", clean, err)
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
