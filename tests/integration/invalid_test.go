package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestInvalidConfig: each bad config makes create exit non-zero before anything
// is left behind. With ocirun the error must name the field and the value
// (a JSON path); other runtimes word it their own way.
func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*specs.Spec)
		id   string   // overrides the container id
		want []string // substrings of ocirun's error
	}{
		{
			name: "unknown-namespace",
			edit: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			},
			want: []string{"linux.namespaces[5]", "bogus"},
		},
		{
			name: "duplicate-namespace",
			edit: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
			},
			want: []string{"linux.namespaces[5]", "network"},
		},
		{
			name: "relative-cwd",
			edit: func(s *specs.Spec) { s.Process.Cwd = "tmp" },
			want: []string{"process.cwd", "tmp"},
		},
		{
			name: "missing-rootfs",
			edit: func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" },
			want: []string{"root.path", "no-such-rootfs"},
		},
		{
			name: "bad-id",
			id:   "../x",
			want: []string{"../x"},
		},
		{
			name: "empty-args",
			edit: func(s *specs.Spec) { s.Process.Args = nil },
			want: []string{"process.args"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t)
			if tc.edit != nil {
				b.Edit(t, tc.edit)
			}
			id := b.ID
			if tc.id != "" {
				id = tc.id
			}
			r := b.Run(t, "create", "--bundle", b.Dir, id)
			if r.Code == 0 {
				t.Fatalf("create accepted an invalid config: %v", r)
			}
			if bundle.IsOcirun(t) {
				for _, w := range tc.want {
					if !strings.Contains(r.Stderr, w) {
						t.Errorf("error does not name %q: %s", w, r.Stderr)
					}
				}
			}
			if tc.id != "" {
				// Nothing may be created outside --root through the id.
				if _, err := os.Lstat(filepath.Join(b.Root, tc.id)); err == nil {
					t.Errorf("%s was created from the bad id", filepath.Join(b.Root, tc.id))
				}
			}
			entries, _ := os.ReadDir(b.Root)
			for _, e := range entries {
				t.Errorf("state root holds %s after a failed create", e.Name())
			}
			b.CheckGone(t)
		})
	}
}

// TestUnknownCapability: the runtime-spec (config.md, process.capabilities) says
// a capability that cannot be mapped to the kernel MUST be logged as a warning
// and the runtime SHOULD NOT fail. Accept a clean failure naming the capability
// too, but never silence.
func TestUnknownCapability(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
	}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	t.Logf("exit %d: %s", r.Code, strings.TrimSpace(r.Stderr))
	if !strings.Contains(r.Stderr, "CAP_BOGUS") {
		t.Errorf("no warning or error names CAP_BOGUS: %v", r)
	}
	if bundle.IsOcirun(t) {
		// ocirun follows runtime-spec 1.3 as runc 1.4 does: a warning, in
		// runc's words, and the container runs.
		if r.Code != 0 {
			t.Fatalf("refused an unknown capability: %v", r)
		}
		if !strings.Contains(r.Stderr, "level=warning") || !strings.Contains(r.Stderr, "ignoring unknown or unavailable capabilities") {
			t.Errorf("no level=warning line in runc's words: %v", r)
		}
	}
	if r.Code != 0 {
		b.CheckGone(t)
		return
	}
	rep := bundle.ParseReport(t, r.Stdout)
	if rep.Caps["CapBnd"] != "0000000020000420" {
		t.Errorf("CapBnd = %s, want the known capabilities only", rep.Caps["CapBnd"])
	}
}
