package exeseal

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCloneSelfIsSealedCopy(t *testing.T) {
	f, err := CloneSelf()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got&seals != seals {
		t.Fatalf("seals = %#x, want %#x", got, seals)
	}
	want, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content, want) {
		t.Fatal("sealed copy differs from the executable")
	}
	// Writable reopen must fail: that is what a container would try.
	_, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
	if err == nil {
		// Opening may succeed on some kernels; the write must not.
		w, _ := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
		if w != nil {
			_, werr := w.Write([]byte("x"))
			w.Close()
			if !errors.Is(werr, unix.EPERM) {
				t.Fatalf("write to sealed copy: %v, want EPERM", werr)
			}
		}
	}
}
