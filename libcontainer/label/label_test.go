package label

import (
	"strings"
	"testing"
)

func TestMountData(t *testing.T) {
	const l = "system_u:object_r:container_file_t:s0:c1,c2"
	for _, tc := range []struct{ fstype, data, label, want string }{
		{"tmpfs", "", l, `context="` + l + `"`},
		{"tmpfs", "mode=755,size=65536k", l, `mode=755,size=65536k,context="` + l + `"`},
		{"devpts", "newinstance", l, `newinstance,context="` + l + `"`},
		{"mqueue", "", l, `context="` + l + `"`},
		{"proc", "", l, ""},
		{"sysfs", "", l, ""},
		{"cgroup", "", l, ""},
		{"bind", "", l, ""},
		{"tmpfs", "mode=755", "", "mode=755"},
	} {
		if got := MountData(tc.fstype, tc.data, tc.label); got != tc.want {
			t.Errorf("MountData(%q, %q) = %q, want %q", tc.fstype, tc.data, got, tc.want)
		}
	}
}

// A label is never silently skipped: on a kernel without SELinux the write
// fails, naming the field (the parent refuses it before init gets there).
func TestSetProcessLabelNotSkipped(t *testing.T) {
	if Enabled() {
		t.Skip("SELinux is enabled here: the label would be applied")
	}
	const l = "system_u:system_r:container_t:s0"
	err := SetProcessLabel(l)
	if err == nil || !strings.Contains(err.Error(), `process.selinuxLabel "`+l+`"`) {
		t.Fatalf("SetProcessLabel on a host without SELinux: %v, want an error naming process.selinuxLabel", err)
	}
	if err := SetProcessLabel(""); err != nil {
		t.Fatalf("empty label: %v", err)
	}
}
