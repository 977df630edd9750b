// Package label applies SELinux labels to the container process; on a host
// with SELinux disabled the labels are skipped, as crun does.
package label

import (
	"fmt"

	"github.com/opencontainers/selinux/go-selinux"
)

// Enabled reports whether SELinux is enabled on this host.
func Enabled() bool { return selinux.GetEnabled() }

// SetProcessLabel sets the label the calling thread's next execve gets. It
// reports skipped when SELinux is disabled and the label is therefore moot.
func SetProcessLabel(label string) (skipped bool, err error) {
	if label == "" {
		return false, nil
	}
	if !selinux.GetEnabled() {
		return true, nil
	}
	if err := selinux.SetExecLabel(label); err != nil {
		return false, fmt.Errorf("process.selinuxLabel %q: %w", label, err)
	}
	return false, nil
}
