package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// seccomp(2) SECCOMP_SET_MODE_FILTER flags. ocirun calls seccomp(2) itself
// instead of seccomp_load(3): libseccomp-golang cannot set TSYNC, and
// libseccomp 2.5 (Debian 12) knows neither WAIT_KILLABLE_RECV nor how to
// prepend the ENOSYS prelude.
const (
	flagTsync            = 1 << 0
	flagLog              = 1 << 1
	flagSpecAllow        = 1 << 2
	flagNewListener      = 1 << 3
	flagTsyncESRCH       = 1 << 4
	flagWaitKillableRecv = 1 << 5
)

var specFlags = sync.OnceValue(func() map[string]uintptr {
	return map[string]uintptr{
		// Always set (see loadFlags); accepted because the runtime-spec lists it.
		configs.SeccompFlagTsync:            flagTsync,
		configs.SeccompFlagLog:              flagLog,
		configs.SeccompFlagSpecAllow:        flagSpecAllow,
		configs.SeccompFlagWaitKillableRecv: flagWaitKillableRecv,
	}
})

// loadFlags maps c.Flags to seccomp(2) flags and checks that the kernel
// knows each of them: silently dropping one would change what the profile
// author asked for.
func loadFlags(c *configs.Seccomp) (uintptr, error) {
	notify := c.HasNotify()
	// TSYNC puts every Go thread under the filter, not only the locked one
	// that will execve. With a listener the kernel wants TSYNC_ESRCH too, as
	// the return value is then the fd and cannot also name a failed thread.
	flags := uintptr(flagTsync)
	if notify {
		flags |= flagNewListener | flagTsyncESRCH
	}
	for _, name := range c.Flags {
		f, ok := specFlags()[name]
		if !ok {
			return 0, fmt.Errorf("seccomp: unknown flag %q", name)
		}
		// The flag only changes how a notifying task waits for its agent;
		// without a listener the kernel rejects it and there is nothing to change.
		if f == flagWaitKillableRecv && !notify {
			continue
		}
		flags |= f
	}
	for f := uintptr(1); f <= flagWaitKillableRecv; f <<= 1 {
		if flags&f != 0 && !flagSupported(f) {
			return 0, fmt.Errorf("seccomp: flag %s is not supported by this kernel", flagName(f))
		}
	}
	return flags, nil
}

func flagName(f uintptr) string {
	for name, v := range specFlags() {
		if v == f {
			return name
		}
	}
	switch f {
	case flagTsync:
		return "SECCOMP_FILTER_FLAG_TSYNC"
	case flagNewListener:
		return "SECCOMP_FILTER_FLAG_NEW_LISTENER"
	case flagTsyncESRCH:
		return "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"
	}
	return fmt.Sprintf("%#x", f)
}

// flagSupported asks the kernel without installing anything: a known flag
// gets as far as copying the (NULL) program and fails with EFAULT, an
// unknown one fails with EINVAL first.
func flagSupported(f uintptr) bool {
	switch f {
	case flagWaitKillableRecv:
		f |= flagNewListener
	case flagTsyncESRCH:
		f |= flagTsync | flagNewListener
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, f, 0)
	return errno == unix.EFAULT
}

// install loads prog with flags on the calling thread and, through TSYNC,
// on every other thread of the process.
func install(prog []unix.SockFilter, flags uintptr, notify bool) (int, error) {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		if errno == unix.EACCES {
			return -1, fmt.Errorf("seccomp: load filter: %w (needs no_new_privs or CAP_SYS_ADMIN)", os.NewSyscallError("seccomp", errno))
		}
		return -1, fmt.Errorf("seccomp: load filter: %w", os.NewSyscallError("seccomp", errno))
	}
	if notify {
		return int(r), nil
	}
	if r != 0 {
		// Without TSYNC_ESRCH a positive return is the thread that could not
		// be synchronized; the filter was not loaded.
		return -1, fmt.Errorf("seccomp: load filter: thread %d could not be synchronized", r)
	}
	return -1, nil
}

// exportBPF reads libseccomp's program back through a memfd (libseccomp 2.5
// has no in-memory export).
func exportBPF(filter *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("ocirun-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export: %w", os.NewSyscallError("memfd_create", err))
	}
	f := os.NewFile(uintptr(fd), "ocirun-seccomp")
	defer f.Close()
	if err := filter.ExportBPF(f); err != nil {
		return nil, fmt.Errorf("seccomp: export: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seccomp: export: %w", err)
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export: %w", err)
	}
	return decodeBPF(raw)
}

// decodeBPF splits raw struct sock_filter records (native endian).
func decodeBPF(raw []byte) ([]unix.SockFilter, error) {
	const size = 8
	if len(raw) == 0 || len(raw)%size != 0 {
		return nil, fmt.Errorf("seccomp: export: %d bytes is not a BPF program", len(raw))
	}
	prog := make([]unix.SockFilter, 0, len(raw)/size)
	for i := 0; i < len(raw); i += size {
		prog = append(prog, unix.SockFilter{
			Code: binary.NativeEndian.Uint16(raw[i:]),
			Jt:   raw[i+2],
			Jf:   raw[i+3],
			K:    binary.NativeEndian.Uint32(raw[i+4:]),
		})
	}
	return prog, nil
}

// EncodeBPF is the inverse of decodeBPF, for golden files and debugging.
func EncodeBPF(prog []unix.SockFilter) []byte {
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.NativeEndian.AppendUint16(out, in.Code)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out
}

var errNoSeccomp = errors.New("seccomp: not available in this kernel")

// LoadFlags returns the seccomp(2) flags c needs, checked against the kernel, so
// a parent can load the program in a process that has no Go runtime.
func LoadFlags(c *configs.Seccomp) (uint32, error) {
	f, err := loadFlags(c)
	return uint32(f), err
}
