// Package label applies SELinux labels to the container process and its
// mounts. Whether SELinux is enabled is the host's answer, decided by the
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

// labelable lists the filesystems that take a context= mount option. proc,
// sysfs and cgroup keep their kernel labels (runc leaves them alone too), and
// a bind mount shows the source's own labels.
var labelable = map[string]bool{"tmpfs": true, "devpts": true, "mqueue": true, "overlay": true}

// MountData adds the container's mount label to a mount's data, as the
// mount(2) option context="LABEL" (quoted: contexts contain commas with MCS
// categories). Other filesystems and an empty label leave data as it is.
func MountData(fstype, data, mountLabel string) string {
	if mountLabel == "" || !labelable[fstype] {
		return data
	}
	opt := `context="` + mountLabel + `"`
	if data == "" {
		return opt
	}
	return data + "," + opt
}
