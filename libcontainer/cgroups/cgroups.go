// Package cgroups finds the host's cgroup hierarchies and returns a Manager
// (fs1 for v1/hybrid hosts, fs2 for pure v2) that places and limits a container.
package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"

	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/stats"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// Manager places a container's processes in its cgroup and sets its limits.
type Manager interface {
	// Apply creates the cgroup dirs and moves pid in; pid -1 only creates.
	Apply(pid int) error
	// CgroupFD returns an O_DIRECTORY fd of the v2 leaf for CLONE_INTO_CGROUP.
	CgroupFD() (*os.File, error)
	// Set writes the limits; nil or unset fields touch no file.
	Set(r *configs.Resources) error
	// Destroy removes the container's cgroup in every hierarchy.
	Destroy() error
	// Paths maps each hierarchy's mountpoint to the container's cgroup dir.
	Paths() map[string]string
	// Path returns the dir for a controller ("" = the unified dir).
	Path(controller string) string
	GetPids() ([]int, error)
	Freeze() error
	Thaw() error
	IsFrozen() (bool, error)
	Exists() bool
	// Stats reads the usage counters (cpu, memory, pids, io, hugetlb).
	Stats() (*Stats, error)
	// NotifyOOM sends after each OOM kill in the cgroup; the channel is
	// closed when stop is closed or the cgroup goes away.
	NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error)
}

// Stats is one sample of a container's cgroup counters.
type Stats = stats.Stats

// Hierarchy is one mounted cgroup hierarchy.
type Hierarchy struct {
	Mountpoint  string   // host mountpoint, e.g. /sys/fs/cgroup/cpu,cpuacct
	Root        string   // cgroup of the hierarchy mounted there (mountinfo field 4)
	Controllers []string // v1 controllers and "name=..." from the super options; empty for cgroup2
	V2          bool
}

// v1 super options that are not controllers.
var v1MountOptions = map[string]bool{
	"rw": true, "ro": true, "noprefix": true, "clone_children": true,
	"xattr": true, "cpuset_v2_mode": true, "all": true, "none": true,
	"favordynmods": true,
}

// Hierarchies parses /proc/self/mountinfo. A hierarchy mounted more than
// once is listed once, preferring the mount of its root.
func Hierarchies() ([]Hierarchy, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	return hierarchiesFrom(mounts), nil
}

func hierarchiesFrom(mounts []*mountinfo.Info) []Hierarchy {
	type key struct{ major, minor int }
	seen := map[key]int{}
	var hs []Hierarchy
	for _, m := range mounts {
		h := Hierarchy{Mountpoint: m.Mountpoint, Root: m.Root, V2: m.FSType == "cgroup2"}
		if !h.V2 {
			for _, o := range strings.Split(m.VFSOptions, ",") {
				if v1MountOptions[o] || (strings.Contains(o, "=") && !strings.HasPrefix(o, "name=")) {
					continue
				}
				h.Controllers = append(h.Controllers, o)
			}
		}
		k := key{m.Major, m.Minor}
		if i, ok := seen[k]; ok {
			if hs[i].Root != "/" && m.Root == "/" {
				hs[i] = h
			}
			continue
		}
		seen[k] = len(hs)
		hs = append(hs, h)
	}
	return hs
}

var isV2 = sync.OnceValue(func() bool {
	hs, err := Hierarchies()
	return err == nil && pureV2(hs)
})

// pureV2: a cgroup2 mount and no v1 hierarchy with a real controller (a
// lone name=systemd v1 mount does not make the host hybrid for limits).
func pureV2(hs []Hierarchy) bool {
	v2 := false
	for _, h := range hs {
		if h.V2 {
			v2 = true
			continue
		}
		for _, c := range h.Controllers {
			if !strings.HasPrefix(c, "name=") {
				return false
			}
		}
	}
	return v2
}

// IsV2 reports whether the host uses the unified hierarchy only.
func IsV2() bool { return isV2() }

// New resolves the container's cgroup dirs. With cfg.Systemd, cfg.Path is
// "slice:prefix:name" and the dirs are the unit's (see newSystemd).
// Otherwise it has cgroupfs semantics: an absolute cfg.Path is taken from
// each hierarchy's mountpoint, a relative one is put under the caller's own
// cgroup in that hierarchy, an empty one is id under the caller's cgroup.
// Nothing is created.
func New(cfg *configs.Cgroup, id string) (Manager, error) {
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	if cfg.Systemd {
		return newSystemd(hs, cfg, id)
	}
	own, err := ownCgroups("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	p := cfg.Path
	if p == "" {
		if id == "" || strings.Contains(id, "/") || id == "." || id == ".." {
			return nil, fmt.Errorf("container id %q cannot name a cgroup", id)
		}
		p = id
	}
	dirs, err := resolve(hs, own, p)
	if err != nil {
		return nil, err
	}
	return newManager(hs, dirs)
}

// resolve computes the container's dir in every hierarchy it should join.
func resolve(hs []Hierarchy, own map[string]string, p string) ([]fs1.Dir, error) {
	if slices.Contains(strings.Split(p, "/"), "..") {
		return nil, fmt.Errorf("linux.cgroupsPath: %q must not contain \"..\"", p)
	}
	var dirs []fs1.Dir
	for _, h := range hs {
		var dir string
		if filepath.IsAbs(p) {
			dir = filepath.Join(h.Mountpoint, p)
		} else {
			k := "" // the cgroup2 line "0::/path"
			if !h.V2 {
				k = strings.Join(slices.Sorted(slices.Values(h.Controllers)), ",")
			}
			cur, ok := own[k]
			if !ok {
				// A hierarchy this process is not in (e.g. mounted by
				// someone else with a different controller set): skip it.
				continue
			}
			// /proc/self/cgroup paths start at the hierarchy's root, the
			// mount may show only a subtree of it.
			rel, ok := strings.CutPrefix(cur, h.Root)
			if h.Root == "/" {
				rel, ok = cur, true
			}
			if !ok {
				return nil, fmt.Errorf("own cgroup %q is outside the mounted part %q of %s", cur, h.Root, h.Mountpoint)
			}
			dir = filepath.Join(h.Mountpoint, rel, p)
		}
		dirs = append(dirs, fs1.Dir{Mountpoint: h.Mountpoint, Controllers: h.Controllers, Path: dir, V2: h.V2})
	}
	return dirs, nil
}

// ownCgroups parses /proc/<pid>/cgroup into "controller list" → path; the
// v2 entry has key "".
func ownCgroups(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("parse %s: bad line %q", file, l)
		}
		ctrls := strings.Split(parts[1], ",")
		sort.Strings(ctrls)
		m[strings.Join(ctrls, ",")] = parts[2]
	}
	return m, nil
}

// Load rebuilds the manager of an existing container from its saved Paths().
func Load(paths map[string]string) (Manager, error) {
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	dirs, err := loadDirs(hs, paths)
	if err != nil {
		return nil, err
	}
	return newManager(hs, dirs)
}

// loadDirs turns saved Paths() (mountpoint → dir) back into dirs.
func loadDirs(hs []Hierarchy, paths map[string]string) ([]fs1.Dir, error) {
	byMount := map[string]Hierarchy{}
	for _, h := range hs {
		byMount[h.Mountpoint] = h
	}
	var dirs []fs1.Dir
	for mnt, p := range paths {
		h, ok := byMount[mnt]
		if !ok {
			return nil, fmt.Errorf("load cgroup paths: %s is no longer a cgroup mountpoint", mnt)
		}
		dirs = append(dirs, fs1.Dir{Mountpoint: mnt, Controllers: h.Controllers, Path: p, V2: h.V2})
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Mountpoint < dirs[j].Mountpoint })
	return dirs, nil
}
