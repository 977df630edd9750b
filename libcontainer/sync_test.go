package libcontainer

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func socketpair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestFrameRoundTrip(t *testing.T) {
	a, b := socketpair(t)
	cfg := &configs.Config{Rootfs: "/r", Process: configs.Process{Args: []string{"sh"}}}
	// A large config must survive: the stream framing has no per-message limit
	// below maxFrame, unlike SOCK_SEQPACKET.
	cfg.Annotations = map[string]string{"big": strings.Repeat("x", 1<<20)}
	done := make(chan error, 1)
	go func() { done <- sendMsg(a, &message{Type: msgConfig, Config: cfg}) }()
	m, files, err := expect(b, msgConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 || m.Config.Rootfs != "/r" || len(m.Config.Annotations["big"]) != 1<<20 {
		t.Fatalf("got %d files, config %+v", len(files), m.Config.Process)
	}
}

func TestFrameCarriesFd(t *testing.T) {
	a, b := socketpair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := sendMsg(a, &message{Type: msgConsole}, int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	// A second message right behind must not merge with the first's fd.
	if err := sendMsg(a, &message{Type: msgReady}); err != nil {
		t.Fatal(err)
	}
	m, files, err := recvMsg(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != msgConsole || len(files) != 1 {
		t.Fatalf("got %q with %d fds", m.Type, len(files))
	}
	if _, err := files[0].Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	files[0].Close()
	buf := make([]byte, 2)
	if _, err := r.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, _, err := expect(b, msgReady); err != nil {
		t.Fatal(err)
	}
}

func TestExpectReportsPeerError(t *testing.T) {
	a, b := socketpair(t)
	if err := sendMsg(a, &message{Type: msgError, Msg: "mount /proc: boom"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := expect(b, msgReady); err == nil || err.Error() != "mount /proc: boom" {
		t.Fatalf("err = %v", err)
	}
	if err := sendMsg(a, &message{Type: msgHooksPlease}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := expect(b, msgReady); err == nil || !strings.Contains(err.Error(), `expected "ready", got "hooks-please"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFrameLimits(t *testing.T) {
	a, b := socketpair(t)
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], maxFrame+1)
	if _, err := unix.Write(a, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readFrame(b); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized frame: err = %v", err)
	}
	if err := writeFrame(a, make([]byte, maxFrame+1)); err == nil {
		t.Fatal("writeFrame accepted an oversized payload")
	}
	unix.Close(a)
	if _, _, err := readFrame(b); err == nil {
		t.Fatal("read from a closed peer succeeded")
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte(`{"type":"ready"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skip(err)
		}
		defer unix.Close(fds[1])
		if len(data) > 64<<10 {
			data = data[:64<<10]
		}
		if _, err := unix.Write(fds[0], data); err != nil {
			t.Skip(err)
		}
		unix.Close(fds[0])
		// Whatever arrives, recvMsg returns a message or an error: no panic,
		// no allocation beyond maxFrame.
		m, files, err := recvMsg(fds[1])
		closeFiles(files)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}
