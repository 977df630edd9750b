package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// TestNoMountNamespace: the runtime-spec lets a config without a mount
// namespace run in the runtime's; ocirun refuses it instead (its mounts
// would change the host's), names the field and the reason, leaves nothing
// behind, and says so beforehand in `features` (README, Status).
func TestNoMountNamespace(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc runs such a config in its own mount namespace, skipping the rootfs setup")
	}
	b := bundle.New(t, withoutNamespace(specs.MountNamespace))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("a config without a mount namespace ran: %v", r)
	}
	if !strings.Contains(r.Stderr, "linux.namespaces") || !strings.Contains(r.Stderr, "mount namespace is required") {
		t.Errorf("stderr does not name linux.namespaces and the missing mount namespace: %v", r)
	}
	if _, sr, ok := b.State(t); ok {
		t.Errorf("container exists after the refusal: %v", sr)
	}
	b.CheckGone(t)

	var f features.Features
	if err := json.Unmarshal([]byte(b.MustRun(t, "features").Stdout), &f); err != nil {
		t.Fatal(err)
	}
	if a := f.Annotations["io.github.ocirun.linux.namespaces.mount"]; !strings.HasPrefix(a, "required: ") {
		t.Errorf("features annotation io.github.ocirun.linux.namespaces.mount = %q, want the requirement and its reason", a)
	}
}
