package systemd

import (
	"errors"
	"os"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// FS is the cgroupfs manager (fs1 or fs2) over the unit's dirs. It stays the
// source of truth for the limits: it writes every file itself, and reads
// pids, stats and the freezer.
type FS interface {
	Apply(pid int) error
	Set(r *configs.Resources) error
	Destroy() error
	Paths() map[string]string
	Path(controller string) string
	GetPids() ([]int, error)
	Freeze() error
	Thaw() error
	IsFrozen() (bool, error)
	Exists() bool
	Stats() (*cgroups.Stats, error)
	NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error)
}

var _ cgroups.Manager = (*Manager)(nil)

// Manager implements the cgroups.Manager interface with systemd creating
// and removing the unit.
type Manager struct {
	fs   FS
	unit Unit
	v2   bool
	conn *sddbus.Conn
	// maybeStarted: the unit may exist, so Destroy must stop it. False
	// until a start was asked for, so that a create failing before that
	// (systemd unreachable) does not try to reach systemd again to clean up.
	maybeStarted bool
	warn         func(string)
	procDevices  string // /proc/devices, for tests; read on use when ""
	// devices are the container's device rules, known at create: the unit
	// starts with them (see Apply).
	devices []configs.DeviceRule
	// sdVersion is systemd's version once asked (see version).
	sdVersion int
}

// New returns a manager for a unit not started yet; fs manages the dirs
// that unit's cgroup has in each hierarchy, devices are the rules the unit
// starts with. Nothing is contacted yet.
func New(fs FS, u Unit, v2 bool, devices []configs.DeviceRule) *Manager {
	return &Manager{fs: fs, unit: u, v2: v2, devices: devices}
}

// Load returns the manager of an existing container's unit.
func Load(fs FS, unitName string, v2 bool) *Manager {
	return &Manager{fs: fs, unit: Unit{Name: unitName}, v2: v2, maybeStarted: true}
}

// UnitName is the unit to save in the container's state for Load.
func (m *Manager) UnitName() string { return m.unit.Name }

// SetWarn sets where notes go about what the unit's properties cannot
// express (the cgroupfs files still enforce it).
func (m *Manager) SetWarn(f func(string)) { m.warn = f }

// Apply starts the unit with pid in it, then lets cgroupfs put pid in the
// hierarchies systemd does not manage (v1 cpuset, freezer, net_cls, ...).
// Pid -1 (before the init exists) only checks that systemd answers: a scope
// cannot be created empty.
func (m *Manager) Apply(pid int) error {
	if pid == -1 {
		_, err := m.connect()
		return err
	}
	// The device policy goes in at the start, unlike the limits: on v1, a
	// devices controller systemd realizes for the unit only later (the first
	// SetUnitProperties) moves the unit's processes into the parent slice's
	// devices cgroup, which allows everything. The rules cannot starve the
	// runtime's setup as a memory or pids limit could.
	props := startProperties(m.unit, pid, m.v2)
	dev, err := m.deviceProps(m.devices)
	if err != nil {
		return err
	}
	if err := m.startUnit(append(props, dev...)); err != nil {
		return err
	}
	// For a slice, a joined unit, and the hierarchies systemd leaves alone,
	// this is what moves pid in; elsewhere it is already there.
	return m.fs.Apply(pid)
}

// CgroupFD refuses: CLONE_INTO_CGROUP would place the init before systemd
// made the scope, so the caller falls back to Apply(pid) after the start.
func (m *Manager) CgroupFD() (*os.File, error) {
	return nil, errors.New("cgroup fd: the systemd driver creates the scope after the process starts")
}

// Set records r in the unit, then writes it through cgroupfs.
func (m *Manager) Set(r *configs.Resources) error {
	if r == nil {
		return nil
	}
	props, err := resourceProperties(r, m.v2)
	if err != nil {
		return err
	}
	dev, err := m.deviceProps(r.Devices)
	if err != nil {
		return err
	}
	props = append(props, dev...)
	if needsVersion(props) {
		var notes []string
		props, notes = filterProperties(props, m.version())
		for _, n := range notes {
			if m.warn != nil {
				m.warn(n)
			}
		}
	}
	if err := m.setProperties(props); err != nil {
		return err
	}
	if m.v2 {
		// systemd realizes the unit's new controllers later, from its event
		// loop, and a realization queued by the start (when the unit needed
		// no memory controller) may have taken "+memory" back out of the
		// slice's subtree_control. From here on systemd wants what the
		// limits need, so enabling them down the path now sticks.
		if err := m.fs.Apply(-1); err != nil {
			return err
		}
	}
	return m.fs.Set(r)
}

// deviceProps translates rules (none: no properties) and passes on the
// notes about what the unit cannot express.
func (m *Manager) deviceProps(rules []configs.DeviceRule) ([]sddbus.Property, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	pd := m.procDevices
	if pd == "" {
		b, _ := os.ReadFile("/proc/devices")
		pd = string(b)
	}
	dev, notes, err := deviceProperties(rules, pd)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		if m.warn != nil {
			m.warn(n)
		}
	}
	return dev, nil
}

// Destroy stops the unit (systemd removes its dirs) and removes the dirs
// left in the hierarchies systemd does not manage.
func (m *Manager) Destroy() error {
	var errs []error
	if m.maybeStarted {
		if err := m.stopUnit(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.fs.Destroy(); err != nil {
		errs = append(errs, err)
	}
	m.Close()
	return errors.Join(errs...)
}

func (m *Manager) Paths() map[string]string       { return m.fs.Paths() }
func (m *Manager) Path(controller string) string  { return m.fs.Path(controller) }
func (m *Manager) GetPids() ([]int, error)        { return m.fs.GetPids() }
func (m *Manager) Freeze() error                  { return m.fs.Freeze() }
func (m *Manager) Thaw() error                    { return m.fs.Thaw() }
func (m *Manager) IsFrozen() (bool, error)        { return m.fs.IsFrozen() }
func (m *Manager) Exists() bool                   { return m.fs.Exists() }
func (m *Manager) Stats() (*cgroups.Stats, error) { return m.fs.Stats() }
func (m *Manager) NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error) {
	return m.fs.NotifyOOM(stop)
}
