package sys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadFile(t *testing.T) {
	// procfs reports size 0: read until EOF, past the first buffer.
	want, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile("/proc/self/maps")
	if err != nil || len(got) < 512 || !bytes.Equal(got[:100], want[:100]) {
		t.Fatalf("/proc/self/maps: %d bytes, %v", len(got), err)
	}
	big := bytes.Repeat([]byte("0123456789"), 1000)
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(p); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("10000-byte file: %d bytes, %v", len(got), err)
	}
	var pe *os.PathError
	if _, err := ReadFile(p + "-missing"); !errors.Is(err, os.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Fatalf("missing file: %v, want an open *PathError that is ErrNotExist", err)
	}
}

func TestWriteOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "knob")
	if err := os.WriteFile(p, []byte("old value"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteOnce(p, unix.O_WRONLY|unix.O_TRUNC, "42"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "42" {
		t.Fatalf("wrote %q", b)
	}
	var pe *os.PathError
	if err := WriteOnce(p+"-missing", unix.O_WRONLY, "1"); !errors.As(err, &pe) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want an open *PathError", err)
	}
	// The kernel refuses the value at write(2): the bare errno comes back.
	if err := WriteOnce("/proc/self/oom_score_adj", unix.O_WRONLY, "not a number"); !errors.Is(err, unix.EINVAL) || errors.As(err, &pe) {
		t.Fatalf("bad value: %v, want a bare EINVAL", err)
	}
}
