package seccomp

import (
	"errors"
	"sync"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// Supported reports whether this kernel can load seccomp filters and the
// linked libseccomp can build them.
func Supported() bool {
	return supported() == nil
}

func supported() error {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return errNoSeccomp
	}
	// seccomp(2) itself, not only prctl: ocirun loads through it.
	if !flagSupported(0) {
		return errNoSeccomp
	}
	if _, err := libseccomp.GetNativeArch(); err != nil {
		return errors.Join(errNoSeccomp, err)
	}
	return nil
}

// retValues are the SECCOMP_RET_* values SECCOMP_GET_ACTION_AVAIL checks.
var retValues = sync.OnceValue(func() map[configs.SeccompAction]uint32 {
	return map[configs.SeccompAction]uint32{
		configs.ActKill:        unix.SECCOMP_RET_KILL_THREAD,
		configs.ActKillThread:  unix.SECCOMP_RET_KILL_THREAD,
		configs.ActKillProcess: unix.SECCOMP_RET_KILL_PROCESS,
		configs.ActTrap:        unix.SECCOMP_RET_TRAP,
		configs.ActErrno:       unix.SECCOMP_RET_ERRNO,
		configs.ActTrace:       unix.SECCOMP_RET_TRACE,
		configs.ActAllow:       unix.SECCOMP_RET_ALLOW,
		configs.ActLog:         unix.SECCOMP_RET_LOG,
		configs.ActNotify:      unix.SECCOMP_RET_USER_NOTIF,
	}
})

// Actions lists the SCMP_ACT_* names this kernel implements, for `features`.
func Actions() []string {
	if supported() != nil {
		return nil
	}
	var out []string
	for _, a := range configs.SeccompActions {
		ret := retValues()[a]
		_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&ret)))
		if errno == 0 {
			out = append(out, string(a))
		}
	}
	return out
}

// Operators lists the SCMP_CMP_* names, for `features`.
func Operators() []string {
	if supported() != nil {
		return nil
	}
	out := make([]string, 0, len(configs.SeccompOperators))
	for _, op := range configs.SeccompOperators {
		out = append(out, string(op))
	}
	return out
}

// Archs lists the SCMP_ARCH_* names the linked libseccomp can add to a
// filter, for `features`.
func Archs() []string {
	if supported() != nil {
		return nil
	}
	filter, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return nil
	}
	defer filter.Release()
	var out []string
	for _, name := range configs.SeccompArchs {
		arch, err := archFromName(name)
		if err != nil {
			continue
		}
		// AddArch of the native arch fails with EEXIST but is supported.
		if present, err := filter.IsArchPresent(arch); err == nil && present {
			out = append(out, name)
			continue
		}
		if filter.AddArch(arch) == nil {
			out = append(out, name)
		}
	}
	return out
}

// Flags lists the SECCOMP_FILTER_FLAG_* names this kernel accepts, for
// `features`.
func Flags() []string {
	if supported() != nil {
		return nil
	}
	var out []string
	for _, name := range configs.SeccompFlags {
		if flagSupported(specFlags()[name]) {
			out = append(out, name)
		}
	}
	return out
}
