package integration

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket listens on a unix socket for the pty master the runtime sends
// with SCM_RIGHTS; recv returns it.
type consoleSocket struct {
	path string
	ln   *net.UnixListener
	fd   chan *os.File
	err  chan error
}

func newConsoleSocket(t *testing.T) *consoleSocket {
	t.Helper()
	// sun_path holds 108 bytes: t.TempDir() paths can be longer.
	dir, err := os.MkdirTemp("", "cs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cs := &consoleSocket{path: filepath.Join(dir, "sock"), fd: make(chan *os.File, 1), err: make(chan error, 1)}
	cs.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: cs.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.ln.Close() })
	go cs.accept()
	return cs
}

func (cs *consoleSocket) accept() {
	conn, err := cs.ln.AcceptUnix()
	if err != nil {
		cs.err <- err
		return
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		cs.err <- err
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		cs.err <- errors.New("console socket: no control message")
		return
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		cs.err <- errors.New("console socket: no fd in SCM_RIGHTS")
		return
	}
	cs.fd <- os.NewFile(uintptr(fds[0]), "pty-master")
}

func (cs *consoleSocket) recv(t *testing.T) *os.File {
	t.Helper()
	select {
	case f := <-cs.fd:
		t.Cleanup(func() { f.Close() })
		return f
	case err := <-cs.err:
		t.Fatalf("console socket: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("console socket: no pty master received")
	}
	return nil
}

// readPTY reads the master until the slave side is closed (EIO) or the deadline.
func readPTY(t *testing.T, master *os.File, within time.Duration) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				done <- sb.String()
				return
			}
		}
	}()
	select {
	case s := <-done:
		return s
	case <-time.After(within):
		t.Fatalf("pty output did not end within %v", within)
	}
	return ""
}

// TestTerminal runs with process.terminal and --console-socket: the probe's stdin
// is the pty, its report arrives on the master, and consoleSize is applied.
func TestTerminal(t *testing.T) {
	t.Parallel()
	cs := newConsoleSocket(t)
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 111}
	}))
	b.Create(t, "--console-socket", cs.path)
	master := cs.recv(t)
	if _, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS); err != nil {
		t.Fatalf("received fd is not a terminal: %v", err)
	}
	b.Start(t)
	out := readPTY(t, master, 10*time.Second)
	rep := bundle.ParseReport(t, strings.ReplaceAll(out, "\r\n", "\n"))
	if !rep.Stdin.IsTTY || !strings.HasPrefix(rep.Stdin.Name, "/dev/pts/") {
		t.Errorf("stdin = %+v, want a /dev/pts terminal", rep.Stdin)
	}
	if rep.Stdin.Rows != 33 || rep.Stdin.Cols != 111 {
		t.Errorf("window size %dx%d, want 33x111 (process.consoleSize)", rep.Stdin.Rows, rep.Stdin.Cols)
	}
	for _, fd := range []int{1, 2} {
		if rep.FDs[fd] != rep.Stdin.Name {
			t.Errorf("fd %d -> %s, want the terminal %s", fd, rep.FDs[fd], rep.Stdin.Name)
		}
	}
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
}

// TestTerminalWithoutSocket: terminal:true with neither --console-socket nor a
// foreground run has nowhere to send the pty, so create must fail cleanly.
func TestTerminalWithoutSocket(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) { s.Process.Terminal = true }))
	if r := b.Run(t, "create", "--bundle", b.Dir, b.ID); r.Code == 0 {
		t.Errorf("create with terminal:true and no --console-socket succeeded: %v", r)
	}
	b.CheckGone(t)
}
