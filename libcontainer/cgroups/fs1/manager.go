// Package fs1 manages a container's cgroups on a cgroup v1 (or hybrid) host
// through cgroupfs: one dir per mounted hierarchy, one file per controller.
package fs1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"golang.org/x/sys/unix"
)

var _ cgroups.Manager = (*Manager)(nil)

// Manager implements the cgroups.Manager interface for cgroup v1 (the dir
// with V2 set is the controller-less cgroup2 tree of a hybrid host).
type Manager struct {
	dirs []cgroups.Dir
}

// New returns a manager for the given dirs; it creates nothing.
func New(dirs []cgroups.Dir) *Manager {
	return &Manager{dirs: slices.Clone(dirs)}
}

// Path returns the dir of the hierarchy that has controller; "" gives the
// hybrid host's unified (cgroup2) dir. Unknown controllers give "".
func (m *Manager) Path(controller string) string {
	for _, d := range m.dirs {
		if controller == "" && d.V2 || controller != "" && slices.Contains(d.Controllers, controller) {
			return d.Path
		}
	}
	return ""
}

// Paths maps each hierarchy's mountpoint to the container's dir in it.
func (m *Manager) Paths() map[string]string {
	p := make(map[string]string, len(m.dirs))
	for _, d := range m.dirs {
		p[d.Mountpoint] = d.Path
	}
	return p
}

// Apply creates the dir in every hierarchy (including name=systemd and the
// unified tree of a hybrid host, as runc does, so that tools reading
// /proc/<pid>/cgroup see the container in its own cgroup everywhere) and
// moves pid into each; pid -1 only creates.
func (m *Manager) Apply(pid int) error {
	for _, d := range m.dirs {
		if err := mkdirs(d); err != nil {
			return err
		}
		if pid == -1 {
			continue
		}
		if err := cgfile.WriteFile(d.Path, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("join pid %d to cgroup: %w", pid, err)
		}
	}
	return nil
}

// mkdirs creates d.Path below its mountpoint. In the cpuset hierarchy a new
// cgroup starts with empty cpuset.cpus/mems, and a task cannot join (nor can
// a child be configured) until they are set, so each level inherits its
// parent's values when still empty.
func mkdirs(d cgroups.Dir) error {
	rel, err := filepath.Rel(d.Mountpoint, d.Path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("cgroup dir %s is outside its hierarchy %s", d.Path, d.Mountpoint)
	}
	cpuset := slices.Contains(d.Controllers, "cpuset")
	cur := d.Mountpoint
	for _, part := range strings.Split(rel, "/") {
		if part == "." {
			continue
		}
		parent := cur
		cur = filepath.Join(cur, part)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		if cpuset {
			if err := inheritCpuset(parent, cur); err != nil {
				return err
			}
		}
	}
	return nil
}

func inheritCpuset(parent, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := cgfile.ReadFile(dir, f)
		if err != nil {
			return err
		}
		if v != "" {
			continue
		}
		pv, err := cgfile.ReadFile(parent, f)
		if err != nil {
			return err
		}
		if err := cgfile.WriteFile(dir, f, pv); err != nil {
			return err
		}
	}
	return nil
}

// SelfJoin opens what the child needs to join the dirs made by Apply(-1):
// `tasks` of each v1 hierarchy, and the hybrid host's cgroup2 dir (entered
// with CLONE_INTO_CGROUP, as cgroup2 has no per-thread file for a process).
func (m *Manager) SelfJoin() (*cgroups.SelfJoin, error) {
	j := &cgroups.SelfJoin{}
	for _, d := range m.dirs {
		var f *os.File
		var err error
		if d.V2 {
			f, err = os.OpenFile(d.Path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			j.Dir = f
		} else {
			f, err = os.OpenFile(filepath.Join(d.Path, "tasks"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				j.Tasks = append(j.Tasks, f)
			}
		}
		if err != nil {
			j.Close()
			return nil, fmt.Errorf("open cgroup %s: %w", d.Path, err)
		}
	}
	return j, nil
}

// CgroupFD is for CLONE_INTO_CGROUP, which only places a task in the v2
// tree; on v1 every controller's cgroup.procs must be written instead.
func (m *Manager) CgroupFD() (*os.File, error) {
	return nil, errors.New("cgroup fd: CLONE_INTO_CGROUP needs cgroup v2")
}

// Set applies r; nil or unset fields touch no file.
func (m *Manager) Set(r *configs.Resources) error {
	if r == nil {
		return nil
	}
	if len(r.Unified) > 0 {
		return cgroups.ErrV1NoUnified
	}
	w := func(ctrl string) cgfile.Writer { return cgfile.Writer{Dir: m.Path(ctrl), Controller: ctrl} }
	for _, set := range []func() error{
		func() error { return cgfile.SetCpuset(w("cpuset"), r.CPU) },
		func() error { return setDevices(w("devices"), r.Devices) },
		func() error { return setMemory(w("memory"), r.Memory) },
		func() error { return setCPU(w("cpu"), r.CPU) },
		func() error { return cgfile.SetPids(w("pids"), r.Pids) },
		func() error { return setBlkio(w("blkio"), r.BlockIO) },
		func() error { return setHugetlb(w("hugetlb"), r.HugepageLimits) },
		func() error { return setNetwork(w("net_cls"), w("net_prio"), r.Network) },
		func() error { return setRdma(w("rdma"), r.Rdma) },
	} {
		if err := set(); err != nil {
			return err
		}
	}
	return nil
}

// Destroy removes the container's dir (and any sub-cgroups it made) in every
// hierarchy; missing dirs are fine.
func (m *Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs {
		if err := cgfile.RemoveTree(d.Path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// GetPids lists the container's processes, recursively. Every task of the
// container is in each hierarchy, so one is enough; pids is the natural
// one, any other works when it is missing.
func (m *Manager) GetPids() ([]int, error) {
	for _, c := range []string{"pids", "freezer", "devices", "memory", ""} {
		if p := m.Path(c); p != "" {
			return cgfile.Procs(p)
		}
	}
	if len(m.dirs) == 0 {
		return nil, errors.New("no cgroup hierarchy")
	}
	return cgfile.Procs(m.dirs[0].Path)
}

// Exists reports whether the container's dir exists in any hierarchy.
func (m *Manager) Exists() bool {
	for _, d := range m.dirs {
		if _, err := os.Stat(d.Path); err == nil {
			return true
		}
	}
	return false
}
