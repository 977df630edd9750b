package manager

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/cgroups/systemd"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestMain(m *testing.M) { cgtest.Main(m) }

// TestNewApplyLoad drives the host's real manager: New with an empty path
// puts the container under this process's own cgroups, and Load from the
// saved paths manages the same dirs.
func TestNewApplyLoad(t *testing.T) {
	cgtest.RequireRoot(t)
	id := cgtest.Name(t)
	m, err := New(&configs.Cgroup{}, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	})
	own, err := cgroups.OwnCgroups("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, ctrl := range []string{"memory", "pids"} {
		if p := m.Path(ctrl); p != "" && !strings.HasSuffix(p, filepath.Join(own[ctrl], id)) && !cgroups.IsV2() {
			t.Errorf("Path(%s) = %s, want it under own cgroup %s", ctrl, p, own[ctrl])
		}
	}
	child := cgtest.StartSleeper(t, nil)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(child.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasSuffix(l, "/"+id) {
			t.Errorf("child not in its cgroup in every hierarchy: %q", l)
		}
	}
	l, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := l.GetPids(); err != nil || !slices.Equal(pids, []int{child.Process.Pid}) {
		t.Errorf("loaded GetPids = %v, %v", pids, err)
	}
	if _, ok := l.(*fs1.Manager); ok == cgroups.IsV2() {
		t.Errorf("Load picked %T on IsV2=%v", l, cgroups.IsV2())
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Paths() {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Destroy", p)
		}
	}
}

func TestNewSystemd(t *testing.T) {
	hs := []cgroups.Hierarchy{{Mountpoint: "/sys/fs/cgroup", Root: "/", V2: true}}
	m, err := newSystemd(hs, &configs.Cgroup{Path: "machine.slice:libpod:abc", Systemd: true}, "id")
	if err != nil {
		t.Fatal(err)
	}
	if got := cgroups.SystemdUnit(m); got != "libpod-abc.scope" {
		t.Errorf("unit = %q", got)
	}
	// Where pid 1 is on the test host decides the middle part.
	if p := m.Path(""); !strings.HasPrefix(p, "/sys/fs/cgroup/") || !strings.HasSuffix(p, "/machine.slice/libpod-abc.scope") {
		t.Errorf("path = %q", p)
	}
	if _, ok := m.(*systemd.Manager); !ok {
		t.Errorf("manager is %T", m)
	}
	if _, err := newSystemd(hs, &configs.Cgroup{Path: "/abs/path", Systemd: true}, "id"); err == nil {
		t.Error("a cgroupfs path was accepted with --systemd-cgroup")
	}
	if _, err := New(&configs.Cgroup{Systemd: true, Path: "a:b"}, "id"); err == nil {
		t.Error("New accepted a two-part systemd path")
	}
	if cgroups.SystemdUnit(nil) != "" {
		t.Error("cgroups.SystemdUnit(nil) != \"\"")
	}
}
