package exeseal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// checkUnwritable is the CVE-2019-5736 attack: reopen the file we would exec
// through /proc for writing, or write to it.
func checkUnwritable(t *testing.T, f *os.File) {
	t.Helper()
	want, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	path := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content, want) {
		t.Fatal("content differs from the executable")
	}
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		_, err = w.Write([]byte("x"))
		w.Close()
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) {
		t.Fatalf("writing the executable copy: %v, want EROFS or EPERM", err)
	}
}

func TestCloneSelf(t *testing.T) {
	f, err := CloneSelf("")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkUnwritable(t, f)
}

func TestOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting overlayfs needs root")
	}
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	f, err := overlayOpen(exe, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Fatalf("not on overlayfs: %#x %v", st.Type, err)
	}
	checkUnwritable(t, f)
}

func TestMemfd(t *testing.T) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	f, err := memfdCopy(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || got&seals != seals {
		t.Fatalf("seals = %#x, %v; want %#x", got, err, seals)
	}
	checkUnwritable(t, f)
}

// TestLegacyOverlay: the layer string of kernels before 6.8 (the VM's 6.1)
// gives the same unwritable executable, here too.
func TestLegacyOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting overlayfs needs root")
	}
	path, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	// The second layer is the state root in use, not an empty directory: a
	// file there under the binary's name must not show through.
	layer := t.TempDir()
	if err := os.WriteFile(filepath.Join(layer, filepath.Base(path)), []byte("stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	mnt, err := legacyOverlayMount(filepath.Dir(path), layer)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(path), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "legacy-overlay")
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, 0); err != nil || string(magic) != "\x7fELF" {
		t.Fatalf("overlay shows %q, not the binary (%v)", magic, err)
	}
	checkUnwritable(t, f)
}

func TestEscapeLayer(t *testing.T) {
	if got, want := escapeLayer(`/a:b,c\d`), `/a\:b\,c\\d`; got != want {
		t.Errorf("escapeLayer = %q, want %q", got, want)
	}
}
