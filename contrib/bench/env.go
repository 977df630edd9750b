package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// unifiedPath is where a hybrid (v1 + v2) host mounts cgroup2. crun 1.8 refuses
// that layout, so the bench unmounts it inside its private mount namespace.
const unifiedPath = "/sys/fs/cgroup/unified"

// cgroupMount is one mounted cgroup hierarchy as this mount namespace sees it.
type cgroupMount struct {
	Path   string // mount point
	V2     bool
	Memory bool // the hierarchy that holds the memory controller
}

// host is what the bench learned about the cgroup layout it runs in.
type host struct {
	Mounts []cgroupMount
	// MemRel is the caller's own memory cgroup (v1) or its v2 cgroup, relative
	// to the hierarchy root: every container lives below it.
	MemRel string
	// UnifiedHidden is set when cgroup2 was unmounted from unifiedPath: the
	// directory below is then plain tmpfs that crun writes into.
	UnifiedHidden bool
}

// benchBase is the per-run cgroup below the caller's own, relative to a
// hierarchy root; the cleanup removes it in every hierarchy.
func (h *host) benchBase(pid int) string {
	return filepath.Join(h.MemRel, fmt.Sprintf("ocirun-bench-%d", pid))
}

func (h *host) memMount() (cgroupMount, bool) {
	for _, m := range h.Mounts {
		if m.Memory {
			return m, true
		}
	}
	return cgroupMount{}, false
}

// memUsage returns the memory charged to the cgroup rel (hierarchical), in bytes.
func (h *host) memUsage(rel string) (int64, error) {
	m, ok := h.memMount()
	if !ok {
		return 0, errors.New("no memory cgroup hierarchy mounted")
	}
	name := "memory.usage_in_bytes"
	if m.V2 {
		name = "memory.current"
	}
	b, err := os.ReadFile(filepath.Join(m.Path, rel, name))
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// procsIn lists the pids in the memory cgroup rel (not its children).
func (h *host) procsIn(rel string) ([]int, error) {
	m, ok := h.memMount()
	if !ok {
		return nil, errors.New("no memory cgroup hierarchy mounted")
	}
	return readPids(filepath.Join(m.Path, rel, "cgroup.procs"))
}

func readPids(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// discoverHost reads the cgroup mounts of this mount namespace and the
// caller's memory cgroup.
func discoverHost() (*host, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := &host{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := indexOf(fields, "-")
		if sep < 0 || len(fields) < sep+4 {
			continue
		}
		fstype, super := fields[sep+1], fields[sep+3]
		switch fstype {
		case "cgroup":
			h.Mounts = append(h.Mounts, cgroupMount{
				Path:   fields[4],
				Memory: hasOpt(super, "memory"),
			})
		case "cgroup2":
			h.Mounts = append(h.Mounts, cgroupMount{Path: fields[4], V2: true})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	hasV1Mem := false
	for _, m := range h.Mounts {
		hasV1Mem = hasV1Mem || m.Memory
	}
	if !hasV1Mem {
		// Pure v2: the unified hierarchy holds memory.
		for i := range h.Mounts {
			if h.Mounts[i].V2 {
				h.Mounts[i].Memory = true
				break
			}
		}
	}
	rel, err := ownMemCgroup(hasV1Mem)
	if err != nil {
		return nil, err
	}
	h.MemRel = rel
	return h, nil
}

func indexOf(fields []string, s string) int {
	for i, f := range fields {
		if f == s {
			return i
		}
	}
	return -1
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// ownMemCgroup returns the caller's memory cgroup from /proc/self/cgroup:
// the v1 "memory" line, or the "0::" line on a pure v2 host.
func ownMemCgroup(v1 bool) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	return parseProcCgroup(string(b), v1)
}

func parseProcCgroup(s string, v1 bool) (string, error) {
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v1 && hasOpt(parts[1], "memory") || !v1 && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
	}
	if v1 {
		return "", errors.New("/proc/self/cgroup: no memory controller line")
	}
	return "", errors.New(`/proc/self/cgroup: no "0::" line`)
}

// checkPrivateMountNS refuses to touch mounts unless this process sits in a
// mount namespace other than its parent's and / does not propagate to it.
func checkPrivateMountNS() error {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	parent, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err != nil {
		return err
	}
	if self == parent {
		return fmt.Errorf("mount namespace %s is the parent's: refusing to unmount", self)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 6 && fields[4] == "/" {
			for _, opt := range fields[6:] {
				if opt == "-" {
					break
				}
				if strings.HasPrefix(opt, "shared:") {
					return fmt.Errorf("/ is %s in this mount namespace: refusing to unmount", opt)
				}
			}
		}
	}
	return nil
}

// hideUnified unmounts cgroup2 from unifiedPath when the host is hybrid, so
// that every runtime (crun included) sees the same plain v1 layout.
func hideUnified(h *host) error {
	var v1, unified bool
	for _, m := range h.Mounts {
		v1 = v1 || !m.V2
		unified = unified || (m.V2 && m.Path == unifiedPath)
	}
	if !v1 || !unified {
		return nil
	}
	if err := checkPrivateMountNS(); err != nil {
		return err
	}
	if err := unix.Unmount(unifiedPath, 0); err != nil {
		if !errors.Is(err, unix.EBUSY) {
			return &os.PathError{Op: "umount", Path: unifiedPath, Err: err}
		}
		if err := unix.Unmount(unifiedPath, unix.MNT_DETACH); err != nil {
			return &os.PathError{Op: "umount", Path: unifiedPath, Err: err}
		}
	}
	kept := h.Mounts[:0]
	for _, m := range h.Mounts {
		if !(m.V2 && m.Path == unifiedPath) {
			kept = append(kept, m)
		}
	}
	h.Mounts = kept
	h.UnifiedHidden = true
	return nil
}

// preState records, per hierarchy root, the ancestors of the bench base that
// did not exist before the run: only those are removed at the end.
type preState struct {
	Base    string              `json:"base"`
	Roots   []string            `json:"roots"`   // cgroupfs mount points
	Plain   []string            `json:"plain"`   // plain tmpfs dirs (hidden unified)
	Missing map[string][]string `json:"missing"` // root -> absolute dirs, deepest last
}

func recordPreState(h *host, pid int, file string) (*preState, error) {
	ps := &preState{Base: h.benchBase(pid), Missing: map[string][]string{}}
	for _, m := range h.Mounts {
		ps.Roots = append(ps.Roots, m.Path)
	}
	if h.UnifiedHidden {
		ps.Plain = append(ps.Plain, unifiedPath)
	}
	for _, root := range append(append([]string{}, ps.Roots...), ps.Plain...) {
		dir := root
		for _, part := range strings.Split(strings.Trim(h.MemRel, "/"), "/") {
			if part == "" {
				continue
			}
			dir = filepath.Join(dir, part)
			if _, err := os.Stat(dir); err != nil {
				ps.Missing[root] = append(ps.Missing[root], dir)
			}
		}
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return nil, err
	}
	return ps, os.WriteFile(file, b, 0o600)
}

func loadPreState(file string) (*preState, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	ps := &preState{}
	if err := json.Unmarshal(b, ps); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ps, nil
}

// removeCgroups removes this run's cgroup trees in every hierarchy, depth
// first, killing what is left in them (only after a crash: everything below
// the bench base was started by this run), then the ancestors it created.
func removeCgroups(ps *preState) []error {
	var errs []error
	for _, root := range ps.Roots {
		if err := removeCgroupTree(filepath.Join(root, ps.Base)); err != nil {
			errs = append(errs, err)
		}
		dirs := ps.Missing[root]
		for i := len(dirs) - 1; i >= 0; i-- {
			// Only if empty: another user may have created children meanwhile.
			_ = unix.Rmdir(dirs[i])
		}
	}
	for _, root := range ps.Plain {
		// crun, seeing no cgroup2 there, creates plain directories and
		// cgroup.procs files in the tmpfs under the hidden mount point.
		if err := os.RemoveAll(filepath.Join(root, ps.Base)); err != nil {
			errs = append(errs, err)
		}
		dirs := ps.Missing[root]
		for i := len(dirs) - 1; i >= 0; i-- {
			removePlainDir(dirs[i])
		}
	}
	return errs
}

// removePlainDir removes a tmpfs dir created during the run if it holds no
// subdirectory (files there are crun's stray cgroup.procs).
func removePlainDir(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			return
		}
	}
	for _, e := range ents {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
	_ = os.Remove(dir)
}

func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Deepest first: a cgroup with children cannot be removed.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var firstErr error
	for _, d := range dirs {
		if err := rmdirCgroup(d); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func rmdirCgroup(dir string) error {
	var err error
	for try := 0; try < 50; try++ {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		pids, _ := readPids(filepath.Join(dir, "cgroup.procs"))
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		// Killed tasks leave the cgroup asynchronously.
		time.Sleep(20 * time.Millisecond)
	}
	return &os.PathError{Op: "rmdir", Path: dir, Err: err}
}
