// Package exeseal gives `ocirun init` a sealed, read-only copy of the ocirun
// binary to run from, so nothing in a container can overwrite the host binary
// through /proc/<pid>/exe (CVE-2019-5736).
package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// CloneSelf returns a file holding the running executable that cannot be
// written by anyone: the binary itself when it already is a fully sealed memfd
// (a previous CloneSelf ran us), otherwise a new sealed memfd copy of it.
func CloneSelf() (*os.File, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	if s, err := unix.FcntlInt(exe.Fd(), unix.F_GET_SEALS, 0); err == nil && s&seals == seals {
		return exe, nil
	}
	defer exe.Close()
	fd, err := unix.MemfdCreate("ocirun", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:ocirun")
	if err := copyAndSeal(mem, exe); err != nil {
		mem.Close()
		return nil, err
	}
	return mem, nil
}

func copyAndSeal(dst, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	// sendfile copies in the kernel; io.Copy falls back to read/write if it can't.
	n, err := io.Copy(dst, src)
	if err != nil {
		return fmt.Errorf("copy executable: %w", err)
	}
	if n != fi.Size() {
		return fmt.Errorf("copy executable: %d of %d bytes", n, fi.Size())
	}
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	return nil
}
