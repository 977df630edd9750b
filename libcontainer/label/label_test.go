package label

import (
	"strings"
	"testing"
)

// TestSetProcessLabelNotSkipped: a label is never silently skipped: on a kernel
// without SELinux the write fails, naming the field (the parent refuses it
// before init gets there).
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
