package integration

import (
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

func TestMain(m *testing.M) { bundle.Main(m) }
