package label

import "testing"

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

func TestSetProcessLabelDisabled(t *testing.T) {
	if Enabled() {
		t.Skip("SELinux is enabled here: the label would be applied, not skipped")
	}
	skipped, err := SetProcessLabel("system_u:system_r:container_t:s0")
	if err != nil || !skipped {
		t.Fatalf("SetProcessLabel on a host without SELinux: skipped=%v err=%v, want skipped", skipped, err)
	}
	if skipped, err := SetProcessLabel(""); skipped || err != nil {
		t.Fatalf("empty label: skipped=%v err=%v", skipped, err)
	}
}
