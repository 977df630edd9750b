package cgroups

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/systemd"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// newSystemd builds the --systemd-cgroup manager: the unit's cgroup, as
// systemd will create it, in every hierarchy.
func newSystemd(hs []Hierarchy, cfg *configs.Cgroup, id string) (Manager, error) {
	u, err := systemd.ParsePath(cfg.Path, id)
	if err != nil {
		return nil, err
	}
	u = unitName(u)
	dir, err := u.Dir()
	if err != nil {
		return nil, err
	}
	// systemd's tree starts at its own cgroup (minus init.scope), which is
	// the hierarchy root on a host but not for a systemd in a container
	// without a cgroup namespace.
	pid1, _ := ownCgroups("/proc/1/cgroup")
	return newSystemdManager(hs, systemdDirs(hs, pid1, dir), u, cfg)
}

// systemdDirs places the unit's cgroup dir (from systemd's root) in each
// hierarchy; pid1 is /proc/1/cgroup parsed by ownCgroups (nil: unknown).
func systemdDirs(hs []Hierarchy, pid1 map[string]string, dir string) []fs1.Dir {
	var dirs []fs1.Dir
	for _, h := range hs {
		k := ""
		if !h.V2 {
			k = strings.Join(slices.Sorted(slices.Values(h.Controllers)), ",")
		}
		root := "/"
		if cur, ok := pid1[k]; ok {
			cur = strings.TrimSuffix(path.Clean(cur), "/init.scope")
			// /proc/1/cgroup is from the hierarchy root, the mount may show
			// a subtree; a systemd outside what we see keeps "/".
			if h.Root == "/" {
				root = cur
			} else if rel, ok := strings.CutPrefix(cur, h.Root); ok && (rel == "" || rel[0] == '/') {
				root = rel
			}
		}
		dirs = append(dirs, fs1.Dir{Mountpoint: h.Mountpoint, Controllers: h.Controllers, Path: filepath.Join(h.Mountpoint, root, dir), V2: h.V2})
	}
	return dirs
}

// LoadSystemd rebuilds the manager of a container created with
// --systemd-cgroup from its saved Paths() and unit name.
func LoadSystemd(paths map[string]string, unit string) (Manager, error) {
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	dirs, err := loadDirs(hs, paths)
	if err != nil {
		return nil, err
	}
	return loadSystemdManager(hs, dirs, unit)
}
