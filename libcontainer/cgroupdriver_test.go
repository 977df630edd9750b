package libcontainer

import (
	"encoding/json"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
)

// TestStateKeepsSystemdDriver: a container created with --systemd-cgroup is
// managed through systemd by every later command, which know only its state.
func TestStateKeepsSystemdDriver(t *testing.T) {
	hs, err := cgroups.Hierarchies()
	if err != nil || len(hs) == 0 {
		t.Skip("no cgroup hierarchy mounted")
	}
	paths := map[string]string{hs[0].Mountpoint: hs[0].Mountpoint + "/system.slice/ocirun-x.scope"}
	b, err := json.Marshal(&State{ID: "x", CgroupPaths: paths, SystemdUnit: "ocirun-x.scope"})
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	m, err := loadCgroup(&st)
	if err != nil {
		t.Fatal(err)
	}
	if got := cgroups.SystemdUnit(m); got != "ocirun-x.scope" {
		t.Errorf("loaded unit = %q, want ocirun-x.scope", got)
	}
	st.SystemdUnit = ""
	if m, err = loadCgroup(&st); err != nil || cgroups.SystemdUnit(m) != "" {
		t.Errorf("cgroupfs state loaded as %T, %v", m, err)
	}
}
