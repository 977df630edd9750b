package proto

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func socketpair(t *testing.T) (parent, init int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func pipeFd(t *testing.T) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return int(w.Fd())
}

// step is one message of a scripted exchange: who sends it, and its fds.
type step struct {
	m      Msg
	toInit bool
	fds    int
}

// script lists, per route, a complete exchange that the route allows.
var script = map[Route][]step{
	GoCreate: {
		{Bootstrap{1}, true, 0}, {IdmapPlease{}, false, 0}, {IdmapDone{}, true, 0}, {Child{Pid: 7}, false, 0},
		// Two idmapped mounts' clones ride with the config.
		{Config{Config: &configs.Config{Rootfs: "/r"}, IDMapped: []int{0, 3}}, true, 2}, {HooksPlease{}, false, 0}, {HooksDone{}, true, 0},
		{Console{}, false, 1}, {SeccompFd{}, false, 1}, {Ready{}, false, 0}, {Commit{}, true, 0},
	},
	CCreate: {
		{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Procfs{}, false, 2}, {Plan{1, 2}, true, 1},
		{SeccompFd{}, false, 1}, {Ready{}, false, 0}, {Commit{}, true, 0},
	},
	GoExec: {
		{Bootstrap{1}, true, 0}, {Child{Pid: 9}, false, 0}, {Config{}, true, 0},
		{Console{}, false, 1}, {Ready{}, false, 0},
	},
	CExec: {
		{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Plan{3}, true, 0}, {SeccompFd{}, false, 1}, {Ready{}, false, 0},
	},
}

// run plays steps between a parent Conn and a fake init Conn; it returns the
// first error either end met, and which step it was.
func run(t *testing.T, route Route, steps []step) (int, error) {
	t.Helper()
	pfd, ifd := socketpair(t)
	parent, init := NewConn(pfd, Parent, route), NewConn(ifd, Init, route)
	for i, s := range steps {
		send, recv := parent, init
		if !s.toInit {
			send, recv = init, parent
		}
		var fds []int
		for range s.fds {
			fds = append(fds, pipeFd(t))
		}
		if e, ok := s.m.(*Error); ok && send == init {
			if err := init.Fail(e); err != nil {
				return i, err
			}
		} else if err := send.Send(s.m, fds...); err != nil {
			return i, err
		}
		if _, isBin := s.m.(Bootstrap); isBin {
			// Binary frames go to the C stage, which reads them raw.
			if _, _, err := ReadFrame(ifd); err != nil {
				return i, err
			}
			init.state = parent.state
			continue
		}
		if _, isBin := s.m.(Plan); isBin {
			if _, files, err := ReadFrame(ifd); err != nil {
				return i, err
			} else {
				closeAll(files)
			}
			init.state = parent.state
			continue
		}
		m, files, err := recv.Recv()
		closeAll(files)
		if err != nil {
			return i, err
		}
		if m.Kind() != s.m.Kind() || len(files) != s.fds {
			t.Fatalf("step %d: sent %s with %d fds, got %s with %d", i, s.m.Kind(), s.fds, m.Kind(), len(files))
		}
	}
	return len(steps), nil
}

func TestRoutesComplete(t *testing.T) {
	for route, steps := range script {
		if n, err := run(t, route, steps); err != nil {
			t.Errorf("%s: step %d: %v", route, n, err)
		}
	}
}

func TestRouteOptionalSteps(t *testing.T) {
	// Console and seccomp-fd are optional, idmap too.
	for _, steps := range [][]step{
		{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Config{}, true, 0}, {HooksPlease{}, false, 0}, {HooksDone{}, true, 0}, {Ready{}, false, 0}},
	} {
		if n, err := run(t, GoCreate, steps); err != nil {
			t.Errorf("step %d: %v", n, err)
		}
	}
}

func TestWrongOrder(t *testing.T) {
	for _, tc := range []struct {
		route Route
		steps []step
		at    int
		want  string
	}{
		// ready before the rootfs was built
		{GoCreate, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Config{}, true, 0}, {Ready{}, false, 0}}, 3, `expected ["hooks-please"], got "ready"`},
		// a Go init's message on the C route
		{CCreate, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {HooksPlease{}, false, 0}}, 2, `expected ["procfs"], got "hooks-please"`},
		// the parent sends a config to a C init
		{CExec, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Config{}, true, 0}}, 2, `expected ["plan"], got "config"`},
		// an exec never maps ids
		{CExec, []step{{Bootstrap{1}, true, 0}, {IdmapPlease{}, false, 0}}, 1, `expected ["child"], got "idmap-please"`},
		// twice ready
		{CExec, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Plan{1}, true, 0}, {Ready{}, false, 0}, {Ready{}, false, 0}}, 4, `unexpected "ready" in state ready`},
		// an exec has nothing to commit: its process runs already
		{CExec, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Plan{1}, true, 0}, {Ready{}, false, 0}, {Commit{}, true, 0}}, 4, `unexpected "commit" in state ready`},
		// commit before ready
		{CCreate, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Procfs{}, false, 0}, {Plan{1}, true, 0}, {Commit{}, true, 0}}, 4, `unexpected "commit" in state planned`},
		// the listener fd missing
		{CExec, []step{{Bootstrap{1}, true, 0}, {Child{}, false, 0}, {Plan{1}, true, 0}, {SeccompFd{}, false, 0}}, 3, "seccomp-fd with 0 fds, want 1"},
	} {
		n, err := run(t, tc.route, tc.steps)
		if err == nil || n != tc.at || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: step %d, error %v; want step %d, %q", tc.route, n, err, tc.at, tc.want)
		}
	}
}

func TestErrorAtEachStep(t *testing.T) {
	for route, steps := range script {
		for i := range steps {
			if steps[i].toInit {
				continue
			}
			try := append(append([]step{}, steps[:i]...), step{&Error{Step: "chdir", Errno: 2}, false, 0})
			n, err := run(t, route, try)
			var e *Error
			if n != i || !errors.As(err, &e) || e.Step != "chdir" || e.Errno != 2 {
				t.Errorf("%s: error at step %d: got step %d, %v", route, i, n, err)
			}
		}
	}
}

func TestEarlyEOF(t *testing.T) {
	pfd, ifd := socketpair(t)
	parent := NewConn(pfd, Parent, CCreate)
	if err := parent.Send(Bootstrap{1}); err != nil {
		t.Fatal(err)
	}
	// init dies halfway through a frame.
	if _, err := unix.Write(ifd, []byte{10, 0, 0, 0, '{'}); err != nil {
		t.Fatal(err)
	}
	unix.Close(ifd)
	if _, _, err := parent.Recv(); !errors.Is(err, ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
	if err := parent.Send(Plan{1}); err == nil {
		t.Error("sent after the peer failed")
	}
}

func TestOversizedFrame(t *testing.T) {
	pfd, ifd := socketpair(t)
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], MaxFrame+1)
	if _, err := unix.Write(ifd, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewConn(pfd, Parent, GoExec).Recv(); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("got %v", err)
	}
	if err := WriteFrame(pfd, make([]byte, MaxFrame+1)); err == nil {
		t.Error("wrote an oversized frame")
	}
}

func TestTooManyFds(t *testing.T) {
	pfd, ifd := socketpair(t)
	var fds []int
	for range maxFds + 1 {
		fds = append(fds, pipeFd(t))
	}
	if err := WriteFrame(ifd, []byte(`{"type":"procfs"}`), fds...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFrame(pfd); err == nil {
		t.Error("read a frame with too many fds")
	}
}

func TestLargeConfig(t *testing.T) {
	// The stream framing has no per-message limit below MaxFrame, unlike
	// SOCK_SEQPACKET: a podman-sized config goes through.
	pfd, ifd := socketpair(t)
	cfg := &configs.Config{Annotations: map[string]string{"big": strings.Repeat("x", 1<<20)}}
	parent, init := NewConn(pfd, Parent, GoExec), NewConn(ifd, Init, GoExec)
	parent.state, init.state = "child", "child"
	done := make(chan error, 1)
	go func() { done <- parent.Send(Config{Config: cfg}) }()
	m, _, err := init.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := m.(Config).Config.Annotations["big"]; len(got) != 1<<20 {
		t.Errorf("annotation of %d bytes", len(got))
	}
}

// TestReadyLog: the C stage's log lines ride on "ready", JSON-escaped by
// hand (process.c's note); quotes, backslashes, control characters and
// bytes that are not UTF-8 must all decode.
func TestReadyLog(t *testing.T) {
	in := `{"type":"ready","spans":[],"log":[{"level":"debug","msg":"cwd \"/a\\b\u000ac\u001f` + "\xff" + `\""},{"level":"warning","msg":"w"}]}`
	m, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r := m.(Ready)
	want := []LogLine{{"debug", "cwd \"/a\\b\nc\x1f\ufffd\""}, {"warning", "w"}}
	if len(r.Log) != 2 || r.Log[0] != want[0] || r.Log[1] != want[1] {
		t.Errorf("log = %q, want %q", r.Log, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"type":"child","pid":5}`, `{"type":"error","step":"chdir","arg":1,"errno":2,"detail":"x"}`,
		`{"type":"ready","spans":[{"cmd":"","phase":"security","start_ms":0,"dur_ms":0.1}]}`, `{"type":"config","config":{"rootfs":"/r"}}`, `{}`, `[`,
		`{"type":"ready","spans":[],"log":[{"level":"debug","msg":"init: chdir \"/a\\nb\""}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := encode(m)
		if err != nil {
			t.Fatalf("decoded %q as %#v, which does not encode: %v", b, m, err)
		}
		m2, err := Decode(out)
		if err != nil || m2.Kind() != m.Kind() {
			t.Fatalf("%q → %#v → %q → %#v, %v", b, m, out, m2, err)
		}
	})
}
