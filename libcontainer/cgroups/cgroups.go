// Package cgroups defines the Manager a container's cgroup is driven through,
// its Stats, and where the container's dirs are in the host's hierarchies.
// The drivers (fs1, fs2, systemd) implement it; package manager picks one.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// ErrV1NoUnified refuses linux.resources.unified where there is no cgroup v2
// to write it to, in runc's words (clients match them).
var ErrV1NoUnified = errors.New("invalid configuration: cannot use unified on cgroup v1")

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

// SelfJoin is what a child still running one thread needs to place itself
// in a manager's cgroups: a task that moves itself ("0" into a v1 `tasks`
// file) skips the kernel's global threadgroup lock, whose first writer
// after a quiet spell waits out an RCU grace period (1–7 ms measured) when
// a parent moves the child by pid.
type SelfJoin struct {
	Tasks []*os.File // each v1 hierarchy's `tasks`, opened for writing
	Dir   *os.File   // the cgroup2 dir of a hybrid host, for CLONE_INTO_CGROUP; or nil
}

// Close closes every file of j.
func (j *SelfJoin) Close() {
	for _, f := range j.Tasks {
		f.Close()
	}
	if j.Dir != nil {
		j.Dir.Close()
	}
}

// SelfJoiner is a Manager whose cgroups a child can join by itself.
type SelfJoiner interface {
	SelfJoin() (*SelfJoin, error)
}

// Dir is the container's cgroup dir in one hierarchy.
type Dir struct {
	Mountpoint  string
	Controllers []string // v1 controllers sharing the hierarchy, or "name=..."
	Path        string   // absolute host path of the container's dir
	V2          bool     // a cgroup2 tree (the only one on a pure v2 host)
}

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

// Hierarchies parses the calling thread's mountinfo. A hierarchy mounted
// more than once is listed once, preferring the mount of its root. The
// answer is kept per mount namespace: a create asks several times, and a
// node with hundreds of mounts makes each read cost a millisecond.
func Hierarchies() ([]Hierarchy, error) {
	var ns unix.Stat_t
	known := unix.Stat("/proc/thread-self/ns/mnt", &ns) == nil
	if known {
		hierMu.Lock()
		hs, ok := hierCache[ns.Ino]
		hierMu.Unlock()
		if ok {
			return cloneHierarchies(hs), nil
		}
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	hs := hierarchiesFrom(mounts)
	if known {
		hierMu.Lock()
		hierCache[ns.Ino] = hs
		hierMu.Unlock()
	}
	return cloneHierarchies(hs), nil
}

var (
	hierMu    sync.Mutex
	hierCache = map[uint64][]Hierarchy{}
)

// cloneHierarchies keeps the cache safe from callers that edit their copy.
func cloneHierarchies(hs []Hierarchy) []Hierarchy {
	out := slices.Clone(hs)
	for i := range out {
		out[i].Controllers = slices.Clone(out[i].Controllers)
	}
	return out
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
	return err == nil && PureV2(hs)
})

// PureV2 reports a cgroup2 mount and no v1 hierarchy with a real controller
// (a lone name=systemd v1 mount does not make the host hybrid for limits).
func PureV2(hs []Hierarchy) bool {
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

// Dirs resolves the container's dir in each hierarchy with cgroupfs
// semantics: an absolute cgroupsPath is taken from each hierarchy's
// mountpoint, a relative one is put under the caller's own cgroup in that
// hierarchy, an empty one is id under the caller's cgroup. Nothing is created.
func Dirs(hs []Hierarchy, cgroupsPath, id string) ([]Dir, error) {
	own, err := OwnCgroups("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	p := cgroupsPath
	if p == "" {
		if id == "" || strings.Contains(id, "/") || id == "." || id == ".." {
			return nil, fmt.Errorf("container id %q cannot name a cgroup", id)
		}
		p = id
	}
	return resolve(hs, own, p)
}

// resolve computes the container's dir in every hierarchy it should join.
func resolve(hs []Hierarchy, own map[string]string, p string) ([]Dir, error) {
	if slices.Contains(strings.Split(p, "/"), "..") {
		return nil, fmt.Errorf("linux.cgroupsPath: %q must not contain \"..\"", p)
	}
	var dirs []Dir
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
		dirs = append(dirs, Dir{Mountpoint: h.Mountpoint, Controllers: h.Controllers, Path: dir, V2: h.V2})
	}
	return dirs, nil
}

// OwnCgroups parses /proc/<pid>/cgroup into "controller list" → path; the
// v2 entry has key "".
func OwnCgroups(file string) (map[string]string, error) {
	b, err := sys.ReadFile(file)
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

// DirsOf turns a container's saved Paths() (mountpoint → dir) back into dirs.
func DirsOf(hs []Hierarchy, paths map[string]string) ([]Dir, error) {
	byMount := map[string]Hierarchy{}
	for _, h := range hs {
		byMount[h.Mountpoint] = h
	}
	var dirs []Dir
	for mnt, p := range paths {
		h, ok := byMount[mnt]
		if !ok {
			return nil, fmt.Errorf("load cgroup paths: %s is no longer a cgroup mountpoint", mnt)
		}
		dirs = append(dirs, Dir{Mountpoint: mnt, Controllers: h.Controllers, Path: p, V2: h.V2})
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Mountpoint < dirs[j].Mountpoint })
	return dirs, nil
}

// SystemdUnit returns the unit of a --systemd-cgroup manager, "" for the
// cgroupfs managers; it is what the state saves to load the manager again.
func SystemdUnit(m Manager) string {
	if u, ok := m.(interface{ UnitName() string }); ok {
		return u.UnitName()
	}
	return ""
}

// Controllers maps each mounted hierarchy to its controllers (none for
// cgroup2): the mount options a container's own cgroup mount needs.
func Controllers() map[string][]string {
	m := map[string][]string{}
	hs, err := Hierarchies()
	if err != nil {
		return m
	}
	for _, h := range hs {
		m[h.Mountpoint] = h.Controllers
	}
	return m
}

// Root is where a hierarchy's root cgroup lies for a checkpointed tree
// restored into new dirs: Path is from the hierarchy's root, Controllers
// is the comma-joined list criu knows the hierarchy by.
type Root struct {
	Controllers string
	Path        string
}

// RestoreRoots returns, on cgroup v1, the root for criu to restore each
// controller hierarchy's dumped cgroups under: the new container's dir from
// paths (a Manager's Paths()). On v2 there is none: criu itself is born in
// the new cgroup, which is the root it restores relative to.
func RestoreRoots(paths map[string]string) []Root {
	hs, err := Hierarchies()
	if err != nil {
		return nil
	}
	return restoreRoots(hs, paths)
}

func restoreRoots(hs []Hierarchy, paths map[string]string) []Root {
	if PureV2(hs) {
		return nil
	}
	var roots []Root
	for _, h := range hs {
		dir, ok := paths[h.Mountpoint]
		if !ok || len(h.Controllers) == 0 {
			continue
		}
		rel := strings.TrimPrefix(dir, h.Mountpoint)
		roots = append(roots, Root{Controllers: strings.Join(h.Controllers, ","), Path: filepath.Join(h.Root, rel)})
	}
	return roots
}
