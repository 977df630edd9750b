//go:build !cgrouplib

package cgroups

import (
	"fmt"

	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/fs2"
	"github.com/ocirun/ocirun/libcontainer/cgroups/systemd"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

var (
	_ Manager = (*fs1.Manager)(nil)
	_ Manager = (*fs2.Manager)(nil)
	_ Manager = (*systemd.Manager)(nil)
)

func newManager(hs []Hierarchy, dirs []fs1.Dir) (Manager, error) {
	if pureV2(hs) {
		for _, d := range dirs {
			if d.V2 {
				return fs2.New(d.Mountpoint, d.Path), nil
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchy is mounted")
	}
	return fs1.New(dirs), nil
}

func unitName(u systemd.Unit) systemd.Unit { return u }

func newSystemdManager(hs []Hierarchy, dirs []fs1.Dir, u systemd.Unit, cfg *configs.Cgroup) (Manager, error) {
	fs, err := newManager(hs, dirs)
	if err != nil {
		return nil, err
	}
	if f2, ok := fs.(*fs2.Manager); ok {
		f2.AncestorsOwnedBySystemd()
	}
	var devices []configs.DeviceRule
	if cfg.Resources != nil {
		devices = cfg.Resources.Devices
	}
	return systemd.New(fs, u, pureV2(hs), devices), nil
}

func loadSystemdManager(hs []Hierarchy, dirs []fs1.Dir, unit string) (Manager, error) {
	fs, err := newManager(hs, dirs)
	if err != nil {
		return nil, err
	}
	return systemd.Load(fs, unit, pureV2(hs)), nil
}

// SystemdUnit returns the unit of a --systemd-cgroup manager, "" for the
// cgroupfs managers; it is what the state saves for LoadSystemd.
func SystemdUnit(m Manager) string {
	if s, ok := m.(*systemd.Manager); ok {
		return s.UnitName()
	}
	return ""
}
