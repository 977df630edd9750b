// Package manager picks the cgroup driver for a container: fs1 on a v1 or
// hybrid host, fs2 on a pure v2 one, systemd around either with --systemd-cgroup.
package manager

import (
	"errors"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/fs2"
	"github.com/ocirun/ocirun/libcontainer/cgroups/systemd"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// New returns the manager of a new container's cgroup. With cfg.Systemd,
// cfg.Path is "slice:prefix:name" and the dirs are the unit's; otherwise see
// cgroups.Dirs. Nothing is created.
func New(cfg *configs.Cgroup, id string) (cgroups.Manager, error) {
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return nil, err
	}
	if cfg.Systemd {
		return newSystemd(hs, cfg, id)
	}
	dirs, err := cgroups.Dirs(hs, cfg.Path, id)
	if err != nil {
		return nil, err
	}
	return newFS(hs, dirs)
}

// Load rebuilds the manager of an existing container from its saved Paths().
func Load(paths map[string]string) (cgroups.Manager, error) {
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return nil, err
	}
	dirs, err := cgroups.DirsOf(hs, paths)
	if err != nil {
		return nil, err
	}
	return newFS(hs, dirs)
}

// LoadSystemd rebuilds the manager of a container created with
// --systemd-cgroup from its saved Paths() and unit name.
func LoadSystemd(paths map[string]string, unit string) (cgroups.Manager, error) {
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return nil, err
	}
	dirs, err := cgroups.DirsOf(hs, paths)
	if err != nil {
		return nil, err
	}
	fs, err := newFS(hs, dirs)
	if err != nil {
		return nil, err
	}
	if f2, ok := fs.(*fs2.Manager); ok {
		f2.AncestorsOwnedBySystemd()
	}
	return systemd.Load(fs, unit, cgroups.PureV2(hs)), nil
}

// newFS is the cgroupfs driver for dirs: fs2 where the host is pure v2,
// fs1 (which also joins a hybrid host's cgroup2 tree) otherwise.
func newFS(hs []cgroups.Hierarchy, dirs []cgroups.Dir) (cgroups.Manager, error) {
	if cgroups.PureV2(hs) {
		for _, d := range dirs {
			if d.V2 {
				return fs2.New(d.Mountpoint, d.Path), nil
			}
		}
	}
	if len(dirs) == 0 {
		return nil, errors.New("no cgroup hierarchy is mounted")
	}
	return fs1.New(dirs), nil
}

// newSystemd builds the --systemd-cgroup manager: systemd makes the unit,
// the cgroupfs driver over the unit's dirs writes the files.
func newSystemd(hs []cgroups.Hierarchy, cfg *configs.Cgroup, id string) (cgroups.Manager, error) {
	u, err := systemd.ParsePath(cfg.Path, id)
	if err != nil {
		return nil, err
	}
	dir, err := u.Dir()
	if err != nil {
		return nil, err
	}
	fs, err := newFS(hs, cgroups.SystemdDirs(hs, dir))
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
	return systemd.New(fs, u, cgroups.PureV2(hs), devices), nil
}
