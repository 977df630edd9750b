package specconv

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func marshal(t *testing.T, s *specs.Spec) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExampleGolden(t *testing.T) {
	got := marshal(t, Example())
	golden := filepath.Join("testdata", "spec.golden.json")
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
		t.Errorf("Example() differs from %s (run with -update):\n%s", golden, got)
	}
}

// runcSpec runs `runc spec [args]` in a temp dir and returns the spec with
// ociVersion set to ours, as `ocirun spec` promises the same content.
func runcSpec(t *testing.T, args ...string) []byte {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc not installed: nothing to compare with")
	}
	dir := t.TempDir()
	cmd := exec.Command(runc, append([]string{"spec"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec %v: %v: %s", args, err, out)
	}
	s, err := LoadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Version = specs.Version
	// Our two deliberate differences (see Example).
	s.Process.Capabilities.Ambient = nil
	if s.Hostname == "runc" {
		s.Hostname = "ocirun"
	}
	return marshal(t, s)
}

func TestExampleMatchesRunc(t *testing.T) {
	if got, want := marshal(t, Example()), runcSpec(t); !bytes.Equal(got, want) {
		t.Errorf("Example() != runc spec:\n%s\nwant\n%s", got, want)
	}
}

func TestToRootlessMatchesRunc(t *testing.T) {
	s := Example()
	ToRootless(s)
	if got, want := marshal(t, s), runcSpec(t, "--rootless"); !bytes.Equal(got, want) {
		t.Errorf("ToRootless(Example()) != runc spec --rootless:\n%s\nwant\n%s", got, want)
	}
}

func TestLoadSpec(t *testing.T) {
	bundle := t.TempDir()
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadSpec(bundle); err == nil || !bytes.Contains([]byte(err.Error()), []byte("no such file")) {
		t.Errorf("missing config.json: err = %v", err)
	}
	write(`{"ociVersion": "1.3.0", "someFutureField": {"x": 1}, "process": {"args": ["sh"], "cwd": "/", "newThing": 1}}`)
	s, err := LoadSpec(bundle)
	if err != nil || s.Process.Args[0] != "sh" {
		t.Errorf("unknown fields must be ignored: %v", err)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"ociVersion": "1.3.0",}`, "invalid JSON at offset 24"},
		{`{"ociVersion": 1}`, `field "ociVersion" at offset 16: cannot use JSON number as string`},
		{`{"process": {"args": "sh"}}`, `field "process.args"`},
	} {
		write(tc.json)
		_, err := LoadSpec(bundle)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) || !bytes.Contains([]byte(err.Error()), []byte("config.json")) {
			t.Errorf("LoadSpec(%s): err = %v, want %q", tc.json, err, tc.want)
		}
	}
}
