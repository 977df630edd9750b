package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Where a process exec'd into a running container joins its cgroup.

// ExecLeaf: on cgroup v2 a cgroup with controllers enabled for its children
// takes no processes (EBUSY). That is the container's cgroup when it runs
// its own cgroup manager (systemd in a container moves itself to
// init.scope, a nested runtime makes children): join the init's cgroup
// instead, as runc does on EBUSY. Unlike runc, not only on EBUSY: a process
// put in the container's cgroup while that manager has no controllers
// enabled (systemd takes them away when no unit needs them) would make the
// next "+memory" it writes fail with EBUSY, and every limit below it with
// it. So whenever the init lives below the container's cgroup, exec'd
// processes go where it is. v1 has no such rule.
func ExecLeaf(paths map[string]string, initPid int) map[string]string {
	if !IsV2() {
		return paths
	}
	cur, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid))
	if err != nil {
		return paths
	}
	paths = maps.Clone(paths) // not the state's
	for mnt, dir := range paths {
		for _, l := range strings.Split(string(cur), "\n") {
			if rel, ok := strings.CutPrefix(l, "0::"); ok {
				// Only a cgroup inside the container's own: the init's
				// path comes from its /proc file, not from our config.
				if leaf := filepath.Join(mnt, rel); strings.HasPrefix(leaf, dir+"/") {
					paths[mnt] = leaf
				}
			}
		}
	}
	return paths
}

// SubCgroupPaths resolves `exec --cgroup`: each entry names a sub-cgroup,
// relative to the container's own, that must already exist (as with runc).
func SubCgroupPaths(base map[string]string, sub map[string]string) (map[string]string, error) {
	if len(sub) == 0 {
		return base, nil
	}
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	return subCgroupPaths(hs, base, sub)
}

func subCgroupPaths(hs []Hierarchy, base, sub map[string]string) (map[string]string, error) {
	controllers := map[string][]string{}
	for _, h := range hs {
		controllers[h.Mountpoint] = h.Controllers
	}
	out := make(map[string]string, len(base))
	for mnt, p := range base {
		out[mnt] = p
	}
	for ctrl, rel := range sub {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(rel) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("sub-cgroup %q: must be a path below the container's cgroup", rel)
		}
		matched := false
		for mnt, p := range base {
			if ctrl != "" && !slices.Contains(controllers[mnt], ctrl) && !(ctrl == "unified" && len(controllers[mnt]) == 0) {
				continue
			}
			matched = true
			dir := filepath.Join(p, clean)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("sub-cgroup %s: %s does not exist", rel, dir)
			}
			out[mnt] = dir
		}
		if !matched {
			return nil, fmt.Errorf("sub-cgroup %s:%s: no such controller in the container's cgroups", ctrl, rel)
		}
	}
	return out, nil
}
