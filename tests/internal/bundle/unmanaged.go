package bundle

import (
	"path/filepath"
	"testing"
)

// NewUnmanaged makes a bundle like New, in a fresh directory under parent, but
// registers no cleanup and leaves Root empty: it is for a runtime instance the
// test does not drive directly (one nested inside a container, with its own
// --root), whose caller deletes the container and checks what is left.
func NewUnmanaged(t testing.TB, parent string, opts ...Option) *Bundle {
	t.Helper()
	id := uniqueID(t)
	return build(t, &Bundle{Dir: filepath.Join(parent, id), ID: id}, opts)
}
