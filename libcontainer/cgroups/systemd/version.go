package systemd

import (
	"fmt"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// propertySince is the first systemd version that knows a resource property
// ocirun may send; an older systemd refuses the whole SetUnitProperties
// call for one unknown name (RHEL 8 has 239).
var propertySince = map[string]int{
	"CPUQuotaPeriodUSec": 242,
	"AllowedCPUs":        244,
	"AllowedMemoryNodes": 244,
	"MemoryMin":          240,
}

// parseVersion takes the leading number of systemd's Version property
// (`"252.38-1~deb12u1"`, quotes included as godbus prints strings); 0 when
// there is none.
func parseVersion(s string) int {
	s = strings.Trim(s, `"`)
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	v, _ := strconv.Atoi(s[:end])
	return v
}

// filterProperties drops the properties systemd version v (0: unknown, keep
// all) does not know, with a note for each; the cgroup files still get them.
func filterProperties(props []sddbus.Property, v int) (kept []sddbus.Property, notes []string) {
	if v == 0 {
		return props, nil
	}
	for _, p := range props {
		if since, ok := propertySince[p.Name]; ok && v < since {
			notes = append(notes, fmt.Sprintf("systemd %d has no %s (since %d): set in the cgroup files only", v, p.Name, since))
			continue
		}
		kept = append(kept, p)
	}
	return kept, notes
}

// version asks systemd for its version once per manager; 0 if it won't say.
func (m *Manager) version() int {
	if m.sdVersion != 0 {
		return m.sdVersion
	}
	c, err := m.connect()
	if err != nil {
		return 0
	}
	s, err := c.GetManagerProperty("Version")
	if err != nil {
		return 0
	}
	m.sdVersion = parseVersion(s)
	return m.sdVersion
}

// needsVersion: only a property some systemd lacks is worth a round trip.
func needsVersion(props []sddbus.Property) bool {
	for _, p := range props {
		if _, ok := propertySince[p.Name]; ok {
			return true
		}
	}
	return false
}
