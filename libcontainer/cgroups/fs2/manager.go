// Package fs2 manages a container's cgroup on a pure cgroup v2 host: one dir
// in the unified tree, controllers enabled top-down, devices through eBPF.
package fs2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/devices"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// wanted are the controllers a container's limits can use; others
// (perf_event, ...) are not enabled on its behalf.
var wanted = []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}

var _ cgroups.Manager = (*Manager)(nil)

// Manager implements the cgroups.Manager interface for cgroup v2.
type Manager struct {
	mountpoint string
	path       string
	// systemOwned: the ancestors belong to systemd (--systemd-cgroup), which
	// enables the controllers its units use; passing the others down is best
	// effort there, as a missing one only matters to a limit that needs it.
	systemOwned bool
}

// New returns a manager for the dir path in the cgroup2 tree mounted at
// mountpoint; it creates nothing.
func New(mountpoint, path string) *Manager {
	return &Manager{mountpoint: mountpoint, path: path}
}

// Path returns the container's dir: v2 has one dir for all controllers.
func (m *Manager) Path(string) string { return m.path }

// AncestorsOwnedBySystemd makes enabling controllers in the ancestors best
// effort (see Manager.systemOwned).
func (m *Manager) AncestorsOwnedBySystemd() { m.systemOwned = true }

// Paths maps the cgroup2 mountpoint to the container's dir.
func (m *Manager) Paths() map[string]string { return map[string]string{m.mountpoint: m.path} }

// Apply creates the container's dir, enabling the wanted controllers in each
// ancestor's cgroup.subtree_control on the way down so that the leaf gets
// them, and moves pid in (pid -1 only creates).
func (m *Manager) Apply(pid int) error {
	rel, err := filepath.Rel(m.mountpoint, m.path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("cgroup dir %s is outside the cgroup2 mount %s", m.path, m.mountpoint)
	}
	cur := m.mountpoint
	if rel != "." {
		for _, part := range strings.Split(rel, "/") {
			if err := enableControllers(cur); err != nil && !(m.systemOwned && errors.Is(err, unix.EBUSY)) {
				return err
			}
			cur = filepath.Join(cur, part)
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
		}
	}
	if pid == -1 {
		return nil
	}
	if err := cgfile.WriteFile(m.path, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("join pid %d to cgroup: %w (the cgroup has controllers enabled for children, so it may not hold processes)", pid, err)
		}
		return fmt.Errorf("join pid %d to cgroup: %w", pid, err)
	}
	return nil
}

// enableControllers writes +ctrl to dir/cgroup.subtree_control for each
// wanted controller that dir has and has not enabled yet. One controller at
// a time, so one that cannot be enabled (e.g. cpu while dir has realtime
// threads) does not cost the others; Set reports a limit whose controller
// is missing. EBUSY is the no-internal-process rule and fails Apply.
func enableControllers(dir string) error {
	avail, err := cgfile.ReadFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	on, err := cgfile.ReadFile(dir, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	have, enabled := strings.Fields(avail), strings.Fields(on)
	for _, c := range wanted {
		if !slices.Contains(have, c) || slices.Contains(enabled, c) {
			continue
		}
		err := cgfile.WriteFile(dir, "cgroup.subtree_control", "+"+c)
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("enable %s controller for children of %s: %w: the cgroup holds processes itself, "+
				"and cgroup v2's no-internal-process rule lets only a cgroup without processes pass controllers "+
				"down; run the runtime in a leaf cgroup or use an absolute linux.cgroupsPath", c, dir, err)
		}
	}
	return nil
}

// CgroupFD opens the leaf for exec.Cmd's SysProcAttr.UseCgroupFD
// (CLONE_INTO_CGROUP), which places the child before it runs any code.
func (m *Manager) CgroupFD() (*os.File, error) {
	fd, err := unix.Open(m.path, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: m.path, Err: err}
	}
	return os.NewFile(uintptr(fd), m.path), nil
}

// Set applies r; nil or unset fields touch no file. A limit whose controller
// is not enabled in the leaf's cgroup.controllers is an error naming it.
func (m *Manager) Set(r *configs.Resources) error {
	if r == nil {
		return nil
	}
	avail, err := cgfile.ReadFile(m.path, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("set cgroup limits: %w", err)
	}
	enabled := strings.Fields(avail)
	w := func(ctrl string) cgfile.Writer {
		if !slices.Contains(enabled, ctrl) {
			return cgfile.Writer{Controller: ctrl}
		}
		return cgfile.Writer{Dir: m.path, Controller: ctrl}
	}
	if r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		return errors.New("linux.resources.network: net_cls and net_prio do not exist on cgroup v2")
	}
	for _, set := range []func() error{
		func() error { return cgfile.SetCpuset(w("cpuset"), r.CPU) },
		func() error { return setMemory(w("memory"), r.Memory) },
		func() error { return setCPU(w("cpu"), r.CPU) },
		func() error { return cgfile.SetPids(w("pids"), r.Pids) },
		func() error { return setIO(w("io"), r.BlockIO) },
		func() error { return setHugetlb(w("hugetlb"), r.HugepageLimits) },
		func() error { return cgfile.SetRdma(w("rdma"), r.Rdma) },
		func() error { return setUnified(m.path, enabled, r.Unified) },
		func() error { return setDevices(m.path, r.Devices) },
	} {
		if err := set(); err != nil {
			return err
		}
	}
	return nil
}

// setDevices attaches the eBPF program for rules (last, so the other writes
// are not affected by a restrictive policy); an empty list changes nothing.
func setDevices(dir string, rules []configs.DeviceRule) error {
	if len(rules) == 0 {
		return nil
	}
	if err := devices.AttachProgram(dir, rules); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}

// Destroy removes the container's dir and any sub-cgroups in it.
func (m *Manager) Destroy() error { return cgfile.RemoveTree(m.path) }

// GetPids lists the container's processes, recursively.
func (m *Manager) GetPids() ([]int, error) { return cgfile.Procs(m.path) }

// Exists reports whether the container's dir exists.
func (m *Manager) Exists() bool {
	_, err := os.Stat(m.path)
	return err == nil
}
