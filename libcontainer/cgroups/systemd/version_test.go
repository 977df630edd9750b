package systemd

import (
	"slices"
	"testing"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]int{`"252.38-1~deb12u1"`: 252, "239": 239, `"247.3-7+deb11u4"`: 247, "": 0, `"v"`: 0} {
		if got := parseVersion(in); got != want {
			t.Errorf("parseVersion(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestFilterProperties(t *testing.T) {
	props := []sddbus.Property{prop("MemoryLimit", uint64(1)), prop("CPUQuotaPeriodUSec", uint64(100000)), prop("AllowedCPUs", []byte{1})}
	names := func(ps []sddbus.Property) (n []string) {
		for _, p := range ps {
			n = append(n, p.Name)
		}
		return n
	}
	for _, c := range []struct {
		v     int
		want  []string
		notes int
	}{
		{0, []string{"MemoryLimit", "CPUQuotaPeriodUSec", "AllowedCPUs"}, 0},
		{239, []string{"MemoryLimit"}, 2},
		{243, []string{"MemoryLimit", "CPUQuotaPeriodUSec"}, 1},
		{252, []string{"MemoryLimit", "CPUQuotaPeriodUSec", "AllowedCPUs"}, 0},
	} {
		got, notes := filterProperties(props, c.v)
		if !slices.Equal(names(got), c.want) || len(notes) != c.notes {
			t.Errorf("systemd %d: kept %v with %d notes, want %v with %d", c.v, names(got), len(notes), c.want, c.notes)
		}
	}
	if !needsVersion(props) || needsVersion(props[:1]) {
		t.Error("needsVersion: want true only with a versioned property")
	}
}
