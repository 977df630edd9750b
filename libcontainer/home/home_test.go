package home

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestNeededAndSet(t *testing.T) {
	for _, tc := range []struct {
		env    []string
		needed bool
		set    []string
	}{
		{nil, true, []string{"HOME=/root"}},
		{[]string{"A=1"}, true, []string{"A=1", "HOME=/root"}},
		{[]string{"HOME=", "A=1"}, true, []string{"A=1", "HOME=/root"}},
		{[]string{"HOME=/x", "A=1"}, false, nil},
		{[]string{"HOMEX=", "A=1"}, true, []string{"HOMEX=", "A=1", "HOME=/root"}},
	} {
		if got := Needed(tc.env); got != tc.needed {
			t.Errorf("Needed(%q) = %v", tc.env, got)
		}
		if tc.needed {
			orig := slices.Clone(tc.env)
			if got := Set(tc.env, "/root"); !slices.Equal(got, tc.set) {
				t.Errorf("Set(%q) = %q, want %q", tc.env, got, tc.set)
			}
			if !slices.Equal(orig, tc.env) {
				t.Errorf("Set changed its argument: %q", tc.env)
			}
		}
	}
}

func TestParse(t *testing.T) {
	const passwd = `# comment
root:x:0:0:root:/root:/bin/sh

nohome:x:7:7:nohome::/bin/sh
short:x:8
alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh
dup:x:1000:1000::/home/dup:/bin/sh
`
	for uid, want := range map[uint32]string{0: "/root", 1000: "/home/alice", 7: "/", 8: "/", 4321: "/"} {
		got, err := parse(strings.NewReader(passwd), uid)
		if err != nil || got != want {
			t.Errorf("uid %d: %q, %v; want %q", uid, got, err, want)
		}
	}
}

func TestLookupInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0::/host-root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() *os.File {
		f, err := os.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	// No /etc at all: runc's default.
	if got, err := Lookup(open(), 0); err != nil || got != "/" {
		t.Errorf("no /etc/passwd: %q, %v", got, err)
	}
	// An absolute symlink is resolved in the container's root, never the host's.
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if got, _ := Lookup(open(), 0); got != "/" {
		t.Errorf("symlink to a host file: %q, want / (the host's file must not be read)", got)
	}
	os.Remove(filepath.Join(root, "etc", "passwd"))
	// A fifo must not block the lookup.
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Lookup(open(), 0); err == nil || got != "/" {
		t.Errorf("fifo: %q, %v; want / and an error", got, err)
	}
	os.Remove(filepath.Join(root, "etc", "passwd"))
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nfoo:x:1000:1000::/home/foo:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Lookup(open(), 1000); err != nil || got != "/home/foo" {
		t.Errorf("uid 1000: %q, %v", got, err)
	}
}
