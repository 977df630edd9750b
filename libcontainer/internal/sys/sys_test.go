package sys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

func openRoot(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCreateFileInRootSymlink: a symlink to an absolute host path is resolved
// inside the root: the file is created under root/<host path>, the host
// directory stays empty.
func TestCreateFileInRootSymlink(t *testing.T) {
	host, rootDir := t.TempDir(), t.TempDir()
	if err := os.Symlink(host, filepath.Join(rootDir, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rootDir, host), 0o755); err != nil {
		t.Fatal(err)
	}
	root := openRoot(t, rootDir)
	f, err := CreateFileInRoot(root, "/a/f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rel, err := CheckInside(rootDir, f)
	if err != nil || rel != filepath.Join(host, "f") {
		t.Errorf("CheckInside: %q, %v; want %q", rel, err, filepath.Join(host, "f"))
	}
	if ents, _ := os.ReadDir(host); len(ents) != 0 {
		t.Errorf("host dir gained %v", ents)
	}
}

func TestCheckInsideRefusesOutside(t *testing.T) {
	rootDir, other := t.TempDir(), t.TempDir()
	f := openRoot(t, other)
	if _, err := CheckInside(rootDir, f); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("CheckInside(%q, %q): %v, want ErrOutsideRoot", rootDir, other, err)
	}
}

func TestOpenNoFollowInRoot(t *testing.T) {
	rootDir := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(rootDir, "l")); err != nil {
		t.Fatal(err)
	}
	f, err := OpenNoFollowInRoot(openRoot(t, rootDir), "/l")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := Fstat(f)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("fstat: mode 0%o, %v; want the symlink itself", st.Mode, err)
	}
}

func TestOpenProcSysRefusesEscape(t *testing.T) {
	for _, rel := range []string{"../self/environ", "kernel/../../x", "/kernel/hostname", "kernel//hostname", ""} {
		if f, err := OpenProcSys(rel, unix.O_RDONLY); err == nil || !strings.Contains(err.Error(), "leaves /proc/sys") {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenProcSys(%q): %v, want a refusal", rel, err)
		}
	}
	f, err := OpenProcSys("kernel/ostype", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := CheckFsMagic(f, unix.PROC_SUPER_MAGIC); err != nil {
		t.Error(err)
	}
}

// TestOpenProcSysBeneath: the fallback for a caller without /proc/thread-self
// in its procfs opens below /proc/sys only: no "..", no link (kernel/../../self
// is refused even though it would land in procfs).
func TestOpenProcSysBeneath(t *testing.T) {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	f, err := openProcSysBeneath(proc, "kernel/ostype", unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, _ := f.Read(b)
	f.Close()
	if strings.TrimSpace(string(b[:n])) != "Linux" {
		t.Errorf("kernel/ostype = %q", b[:n])
	}
	for _, rel := range []string{"../self/environ", "kernel/../../self/status"} {
		if f, err := openProcSysBeneath(proc, rel, unix.O_RDONLY); err == nil {
			f.Close()
			t.Errorf("openProcSysBeneath(%q) left /proc/sys", rel)
		}
	}
}

// TestNewFsMountReportsBadOption: fsconfig errors carry the kernel's
// explanation.
func TestNewFsMountReportsBadOption(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fsopen needs CAP_SYS_ADMIN")
	}
	_, err := NewFsMount("tmpfs", "tmpfs", []FsOption{{Key: "size", Value: "lots", HasValue: true}})
	if err == nil || !strings.Contains(err.Error(), "size") {
		t.Errorf("bad tmpfs size: %v, want an error naming size", err)
	}
}

// TestFchmodFchownOPath: Fchmod and Fchown work on an O_PATH handle, through
// fchmodat2 and through the procfs fallback for older kernels, and never follow
// a symlink handle.
func TestFchmodFchownOPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	open := func(p string) *os.File {
		f, err := os.OpenFile(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	mode := func() (uint32, uint32) {
		var st unix.Stat_t
		if err := unix.Stat(target, &st); err != nil {
			t.Fatal(err)
		}
		return st.Mode & 0o7777, st.Uid
	}
	f := open(target)
	if err := Fchmod(f, 0o640); err != nil {
		t.Fatal(err)
	}
	if m, _ := mode(); m != 0o640 {
		t.Errorf("mode after Fchmod = %o, want 640", m)
	}
	if err := fchmodProcfs(f, 0o604); err != nil {
		t.Fatal(err)
	}
	if m, _ := mode(); m != 0o604 {
		t.Errorf("mode after the procfs fallback = %o, want 604", m)
	}
	if err := Fchown(f, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	if _, uid := mode(); uid != 4242 {
		t.Errorf("owner after Fchown = %d, want 4242", uid)
	}
	if err := Fchmod(open(link), 0o666); !errors.Is(err, unix.ELOOP) {
		t.Errorf("Fchmod of a symlink handle: %v, want ELOOP", err)
	}
	if m, _ := mode(); m != 0o604 {
		t.Errorf("Fchmod of a symlink handle changed its target to %o", m)
	}
}
