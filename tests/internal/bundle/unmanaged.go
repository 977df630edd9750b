package bundle

import (
	"os"
	"path/filepath"
	"testing"
)

// NewUnmanaged makes a bundle like New, in a fresh directory under parent, but
// registers no cleanup and leaves Root empty: it is for a runtime instance the
// test does not drive directly (one nested inside a container, with its own
// --root), whose caller deletes the container and checks what is left.
func NewUnmanaged(t testing.TB, parent string, opts ...Option) *Bundle {
	t.Helper()
	RequireRoot(t)
	a := buildAssets(t)
	b := &Bundle{ID: uniqueID(t)}
	b.Dir = filepath.Join(parent, b.ID)
	b.Rootfs = filepath.Join(b.Dir, "rootfs")
	b.CgroupsPath = "ocirun-it-" + b.ID
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := makeRootfs(b.Rootfs, a); err != nil {
		t.Fatalf("rootfs: %v", err)
	}
	b.Spec = DefaultSpec(b.CgroupsPath)
	for _, o := range opts {
		o(b)
	}
	b.WriteConfig(t)
	return b
}
