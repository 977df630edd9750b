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
