package integration

import (
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

func TestSmoke(t *testing.T) {
	b := bundle.New(t)
	rep := b.Report(t)
	t.Logf("%+v", rep)
}
