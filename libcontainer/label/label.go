// Package label applies SELinux labels to the container process (the
// mounts' label is rootfs's). Whether SELinux is enabled is the host's answer, decided by the
// runtime's parent: every function here applies what it is given.
package label

import (
	"fmt"

	"github.com/opencontainers/selinux/go-selinux"
)

// Enabled reports whether SELinux is enabled. Meaningful on the host only:
// inside a container's mount namespace selinuxfs is absent or masked.
func Enabled() bool { return selinux.GetEnabled() }

// SetProcessLabel sets the label the calling thread's next execve gets.
// go-selinux writes attr/exec through a verified procfs handle (a private
// procfs, reopened by fd), never through the container's /proc, which a
// mount could redirect (CVE-2019-16884). A label on a kernel without SELinux
// fails here: the parent refuses it before, so this never drops one.
func SetProcessLabel(label string) error {
	if label == "" {
		return nil
	}
	if err := selinux.SetExecLabel(label); err != nil {
		return fmt.Errorf("process.selinuxLabel %q: %w", label, err)
	}
	return nil
}

// SetKeyLabel sets the label of the keyrings the calling process creates
// next ("" resets it), so the container's session keyring carries the
// process label, as runc does.
func SetKeyLabel(label string) error {
	if err := selinux.SetKeyLabel(label); err != nil {
		return fmt.Errorf("process.selinuxLabel %q: keyring label: %w", label, err)
	}
	return nil
}
