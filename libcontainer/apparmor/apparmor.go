// Package apparmor applies a container process's AppArmor profile on exec,
// writing through a verified procfs handle (never the container's /proc).
package apparmor

import (
	"bytes"
	"fmt"
	"os"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
)

// IsEnabled reports whether the kernel has AppArmor enabled.
func IsEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// ApplyProfile makes the calling thread's next execve switch to profile. As
// runc does, a profile on a host without AppArmor is an error: running the
// container unconfined would silently drop what its author asked for.
func ApplyProfile(profile string) error {
	if profile == "" {
		return nil
	}
	if !IsEnabled() {
		return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", profile)
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return err
	}
	defer proc.Close()
	// The per-LSM file exists since 5.8; attr/exec is the older interface.
	f, closer, err := proc.OpenThreadSelf("attr/apparmor/exec")
	if err != nil {
		f, closer, err = proc.OpenThreadSelf("attr/exec")
	}
	if err != nil {
		return fmt.Errorf("apparmor: %w", err)
	}
	defer closer()
	defer f.Close()
	wf, err := os.OpenFile("/proc/self/fd/"+fmt.Sprint(f.Fd()), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("apparmor: reopen exec attr: %w", err)
	}
	defer wf.Close()
	if _, err := wf.WriteString("exec " + profile); err != nil {
		return fmt.Errorf("apparmor: set profile %q: %w", profile, err)
	}
	return nil
}
