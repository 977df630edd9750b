// Package apparmor applies a container process's AppArmor profile on exec,
// writing through a verified procfs handle (never the container's /proc).
package apparmor

import (
	"bytes"
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// IsEnabled reports whether the kernel enforces AppArmor: securityfs shows
// it and the module says so (runc's test). Meaningful on the host only:
// inside a container's mount namespace both may be absent or masked.
func IsEnabled() bool {
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err != nil {
		return false
	}
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// ApplyProfile makes the calling thread's next execve switch to profile.
// Whether AppArmor is enabled was decided by the parent, on the host; here
// the attribute is opened through a private procfs handle and reopened by fd
// through it, so no mount the container put on /proc (a fake tree, a bind
// over /proc/self/fd) can catch the write (CVE-2019-16884).
func ApplyProfile(profile string) error {
	if profile == "" {
		return nil
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("process.apparmorProfile %q: open procfs handle: %w", profile, err)
	}
	defer proc.Close()
	// The per-LSM file exists since 5.8; attr/exec is the older interface.
	h, closer, err := proc.OpenThreadSelf("attr/apparmor/exec")
	if err != nil {
		h, closer, err = proc.OpenThreadSelf("attr/exec")
	}
	if err != nil {
		return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
	}
	defer closer()
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("process.apparmorProfile %q: reopen exec attribute: %w", profile, err)
	}
	defer f.Close()
	if _, err := f.WriteString("exec " + profile); err != nil {
		return fmt.Errorf("process.apparmorProfile %q: %w", profile, err)
	}
	return nil
}
