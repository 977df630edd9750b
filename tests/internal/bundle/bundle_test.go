package bundle

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// validID is the container id grammar ocirun shares with runc.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+.-]*$`)

func TestUniqueID(t *testing.T) {
	tests := []string{"plain", "with/slash and space", strings.Repeat("long", 30)}
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			a, b := uniqueID(t), uniqueID(t)
			if a == b {
				t.Errorf("two ids are equal: %s", a)
			}
			if !validID.MatchString(a) || len(a) > 64 {
				t.Errorf("id %q is not a valid, short container id", a)
			}
		})
	}
}

func TestCgroupDirs(t *testing.T) {
	dirs, err := CgroupDirs("x-test")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Skip("no cgroup hierarchy mounted")
	}
	for _, d := range dirs {
		if filepath.Base(d) != "x-test" {
			t.Errorf("%s does not end in the relative path", d)
		}
		// The parent is this process's own cgroup, which exists.
		if _, err := os.Stat(filepath.Dir(d)); err != nil {
			t.Errorf("parent of %s: %v", d, err)
		}
	}
}

func TestDefaultSpec(t *testing.T) {
	s := DefaultSpec("cg")
	if s.Process.Terminal || s.Root.Readonly || s.Linux.CgroupsPath != "cg" || s.Process.Args[0] != ProbePath {
		t.Errorf("default spec: terminal %v readonly %v cgroupsPath %q args %v",
			s.Process.Terminal, s.Root.Readonly, s.Linux.CgroupsPath, s.Process.Args)
	}
}
