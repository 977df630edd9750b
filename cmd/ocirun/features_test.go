package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFeaturesGolden pins `ocirun features`: a change in what the validation
// accepts shows up here and must be looked at.
func TestFeaturesGolden(t *testing.T) {
	fs := ociFeatures()
	fs.Annotations["io.github.ocirun.version"] = "VERSION"
	got, err := json.MarshalIndent(fs, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "features.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("features differ from %s (go test -run Features -update after checking):\n%s", golden, got)
	}
}
