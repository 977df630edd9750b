package fs1

import (
	"github.com/ocirun/ocirun/libcontainer/cgroups/devices"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setDevices makes the v1 devices cgroup enforce rules: the default first
// ("a"), then each rule in order. An empty list leaves the cgroup as is.
//
// Between the deny-all and the allows a running container briefly loses its
// devices; runc avoids that by diffing against devices.list, which is left
// for an update path that needs it.
func setDevices(w cgfile.Writer, rules []configs.DeviceRule) error {
	if len(rules) == 0 {
		return nil
	}
	ws, err := devices.V1Writes(rules)
	if err != nil {
		return err
	}
	for _, x := range ws {
		if err := w.Write("linux.resources.devices", x.File, x.Value); err != nil {
			return err
		}
	}
	return nil
}
