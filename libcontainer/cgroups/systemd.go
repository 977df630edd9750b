package cgroups

import (
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// SystemdDirs places a unit's cgroup dir (a path from the root of systemd's
// tree, see systemd.Unit.Dir) in each hierarchy.
func SystemdDirs(hs []Hierarchy, dir string) []Dir {
	// systemd's tree starts at its own cgroup (minus init.scope), which is
	// the hierarchy root on a host but not for a systemd in a container
	// without a cgroup namespace.
	pid1, _ := OwnCgroups("/proc/1/cgroup")
	return systemdDirs(hs, pid1, dir)
}

// systemdDirs: pid1 is /proc/1/cgroup parsed by OwnCgroups (nil: unknown).
func systemdDirs(hs []Hierarchy, pid1 map[string]string, dir string) []Dir {
	var dirs []Dir
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
		dirs = append(dirs, Dir{Mountpoint: h.Mountpoint, Controllers: h.Controllers, Path: filepath.Join(h.Mountpoint, root, dir), V2: h.V2})
	}
	return dirs
}
