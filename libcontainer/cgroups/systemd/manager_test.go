package systemd

import (
	"os"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// fakeFS records which calls reach the cgroupfs manager.
type fakeFS struct{ calls []string }

func (f *fakeFS) rec(c string)                   { f.calls = append(f.calls, c) }
func (f *fakeFS) Apply(int) error                { f.rec("Apply"); return nil }
func (f *fakeFS) Set(*configs.Resources) error   { f.rec("Set"); return nil }
func (f *fakeFS) Destroy() error                 { f.rec("Destroy"); return nil }
func (f *fakeFS) Paths() map[string]string       { return map[string]string{"/m": "/m/x"} }
func (f *fakeFS) Path(string) string             { return "/m/x" }
func (f *fakeFS) GetPids() ([]int, error)        { f.rec("GetPids"); return []int{1}, nil }
func (f *fakeFS) Freeze() error                  { f.rec("Freeze"); return nil }
func (f *fakeFS) Thaw() error                    { f.rec("Thaw"); return nil }
func (f *fakeFS) IsFrozen() (bool, error)        { return true, nil }
func (f *fakeFS) Exists() bool                   { return true }
func (f *fakeFS) Stats() (*cgroups.Stats, error) { f.rec("Stats"); return &cgroups.Stats{}, nil }
func (f *fakeFS) NotifyOOM(<-chan struct{}) (<-chan struct{}, error) {
	f.rec("NotifyOOM")
	return nil, nil
}

// noSystemd skips when a systemd answers here: these tests are about
// what happens without one (the usual build host, a container).
func noSystemd(t *testing.T) {
	if _, err := os.Stat("/run/systemd/private"); err == nil {
		t.Skip("a systemd is reachable on this host")
	}
	if _, err := os.Stat("/run/dbus/system_bus_socket"); err == nil {
		t.Skip("a system bus is reachable on this host")
	}
}

func TestNoSystemd(t *testing.T) {
	noSystemd(t)
	fs := &fakeFS{}
	m := New(fs, Unit{Name: "ocirun-x.scope", Slice: "system.slice"}, false, nil)
	err := m.Apply(-1)
	if err == nil || !strings.HasPrefix(err.Error(), "--systemd-cgroup: ") || !strings.Contains(err.Error(), "connect to systemd: ") {
		t.Fatalf("Apply(-1) = %v, want a connect error", err)
	}
	if err := m.Set(&configs.Resources{Pids: &configs.Pids{Limit: 1}}); err == nil {
		t.Error("Set without systemd succeeded")
	}
	// A create that failed to reach systemd cleans up without it.
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy of a never started unit = %v", err)
	}
	if got := strings.Join(fs.calls, ","); got != "Destroy" {
		t.Errorf("fs calls = %s, want only Destroy", got)
	}
	// A loaded container's unit may exist: Destroy must ask systemd.
	fs = &fakeFS{}
	l := Load(fs, "ocirun-x.scope", false)
	if err := l.Destroy(); err == nil || !strings.Contains(err.Error(), "connect to systemd") {
		t.Errorf("Destroy of a loaded unit = %v, want the connect error", err)
	}
	if got := strings.Join(fs.calls, ","); got != "Destroy" {
		t.Errorf("fs calls = %s, want Destroy even when systemd is gone", got)
	}
}

func TestDelegates(t *testing.T) {
	fs := &fakeFS{}
	m := Load(fs, "a.scope", true)
	if m.UnitName() != "a.scope" {
		t.Errorf("UnitName = %q", m.UnitName())
	}
	if _, err := m.CgroupFD(); err == nil {
		t.Error("CgroupFD must refuse: the scope is made after the process starts")
	}
	_, _ = m.GetPids()
	_ = m.Freeze()
	_ = m.Thaw()
	_, _ = m.Stats()
	_, _ = m.NotifyOOM(nil)
	if got := strings.Join(fs.calls, ","); got != "GetPids,Freeze,Thaw,Stats,NotifyOOM" {
		t.Errorf("fs calls = %s", got)
	}
	if m.Path("memory") != "/m/x" || m.Paths()["/m"] != "/m/x" || !m.Exists() {
		t.Error("paths not delegated")
	}
	if f, err := m.IsFrozen(); !f || err != nil {
		t.Error("IsFrozen not delegated")
	}
}
