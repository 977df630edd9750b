package console

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const childEnv = "OCIRUN_CONSOLE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := child(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child takes the slave passed as fd 3 as its terminal and reports, through
// it, what the kernel says about its session and controlling tty.
func child() error {
	if err := SetupControllingTerminal(os.NewFile(3, "slave")); err != nil {
		return err
	}
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return err
	}
	// Fields after "comm)": state ppid pgrp session tty_nr.
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	fmt.Fprintf(os.Stdout, "pid=%d session=%s tty_nr=%s\n", os.Getpid(), f[3], f[4])
	return nil
}

func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := OpenPty()
	if err != nil {
		t.Skipf("no usable /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// pollable returns a non-blocking duplicate of f, so reads honour deadlines
// and a broken test fails instead of hanging.
func pollable(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	p := os.NewFile(uintptr(fd), f.Name())
	t.Cleanup(func() { p.Close() })
	return p
}

// readUntil reads f until its data contains want or 5s pass.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(want)) {
		n, err := f.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read %s: %v (got %q, want %q)", f.Name(), err, got, want)
		}
	}
	return string(got)
}

func TestOpenPty(t *testing.T) {
	master, slave := openPty(t)
	var st unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("/dev/pts/%d", n); slave.Name() != want {
		t.Errorf("slave name %q, want %q", slave.Name(), want)
	}
	if got := unix.Minor(st.Rdev) + 256*(unix.Major(st.Rdev)-136); got != n {
		t.Errorf("slave is device %d:%d, master says pty %d", unix.Major(st.Rdev), unix.Minor(st.Rdev), n)
	}
	if _, err := slave.WriteString("hello\n"); err != nil {
		t.Fatal(err)
	}
	// The default line discipline turns \n into \r\n (ONLCR).
	if got := readUntil(t, pollable(t, master), "\n"); got != "hello\r\n" {
		t.Errorf("master read %q, want %q", got, "hello\r\n")
	}
	if _, err := master.WriteString("typed\n"); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, pollable(t, slave), "\n"); got != "typed\n" {
		t.Errorf("slave read %q, want %q", got, "typed\n")
	}
}

func TestSetSize(t *testing.T) {
	master, slave := openPty(t)
	if err := SetSize(master, 43, 132); err != nil {
		t.Fatal(err)
	}
	ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Row != 43 || ws.Col != 132 {
		t.Errorf("slave size %dx%d, want 43x132", ws.Row, ws.Col)
	}
}

func TestSocketRoundTrip(t *testing.T) {
	master, slave := openPty(t)
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer conn.Close()
		f, err := ReceiveFromSocket(conn)
		ch <- result{f, err}
	}()
	if err := SendToSocket(path, master); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no fd received")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.f.Close()
	if r.f.Name() != master.Name() {
		t.Errorf("received name %q, want %q", r.f.Name(), master.Name())
	}
	flags, err := unix.FcntlInt(r.f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd flags %#x, %v: want close-on-exec", flags, err)
	}
	// The received fd is the same pty: what the slave writes comes out of it.
	if _, err := slave.WriteString("via socket\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, pollable(t, r.f), "via socket\r\n")
}

func TestReceiveNoFd(t *testing.T) {
	a, b, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	if _, err := a.Write([]byte("/dev/ptmx")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReceiveFromSocket(b); err == nil || !strings.Contains(err.Error(), "got 0 fds, want 1") {
		t.Errorf("got %v, want an error about the missing fd", err)
	}
}

func socketPair() (*net.UnixConn, *net.UnixConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, _ := net.FileConn(f)
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1]), nil
}

func TestSetupControllingTerminal(t *testing.T) {
	master, slave := openPty(t)
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.ExtraFiles = []*os.File{slave}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := readUntil(t, pollable(t, master), "\n")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v: %s", err, stderr.String())
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	// tty_nr encodes the device as the kernel's new_encode_dev.
	ttyNr := (unix.Minor(st.Rdev) & 0xff) | unix.Major(st.Rdev)<<8 | (unix.Minor(st.Rdev)&^0xff)<<12
	want := fmt.Sprintf("pid=%d session=%d tty_nr=%s\r\n", cmd.Process.Pid, cmd.Process.Pid, strconv.FormatUint(uint64(ttyNr), 10))
	if out != want {
		t.Errorf("child reported %q, want %q", out, want)
	}
}

func TestForward(t *testing.T) {
	master, slave := openPty(t)
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inR.Close(); inW.Close(); outR.Close(); outW.Close() })

	// stdin is a pipe, not a terminal: no raw mode, plain copying.
	stop, err := forward(master, inR, outW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inW.WriteString("input\n"); err != nil {
		t.Fatal(err)
	}
	// Echo is on by default: the line also comes back out of the master.
	ps := pollable(t, slave)
	if got := readUntil(t, ps, "\n"); got != "input\n" {
		t.Errorf("slave read %q, want %q", got, "input\n")
	}
	if _, err := slave.WriteString("output\n"); err != nil {
		t.Fatal(err)
	}
	// The container side is gone: the master reports EOF (EIO), so stop
	// returns without waiting for the idle timeout.
	slave.Close()
	ps.Close()

	start := time.Now()
	stop()
	if d := time.Since(start); d >= drainQuiet {
		t.Errorf("stop took %v: the copy did not see the pty's EOF", d)
	}
	outW.Close()
	got, err := io.ReadAll(outR)
	if err != nil {
		t.Fatal(err)
	}
	if want := "input\r\noutput\r\n"; string(got) != want {
		t.Errorf("stdout got %q, want %q", got, want)
	}
}

func TestForwardIdleSlave(t *testing.T) {
	master, _ := openPty(t)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outR.Close(); outW.Close() })
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	stop, err := forward(master, devNull, outW)
	if err != nil {
		t.Fatal(err)
	}
	// A background process keeps the slave open: stop gives up after the
	// output has been idle for drainQuiet instead of hanging.
	start := time.Now()
	stop()
	if d := time.Since(start); d < drainQuiet || d > 4*drainQuiet {
		t.Errorf("stop took %v, want about %v", d, drainQuiet)
	}
}

func TestForwardTerminal(t *testing.T) {
	master, _ := openPty(t)
	// The caller's terminal is played by a second pty.
	userMaster, userTTY := openPty(t)
	if err := SetSize(userMaster, 30, 100); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(userTTY.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outR.Close(); outW.Close() })

	stop, err := forward(master, userTTY, outW)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := unix.IoctlGetTermios(int(userTTY.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("caller's terminal not raw: lflag %#x", raw.Lflag)
	}
	if ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ); err != nil || ws.Row != 30 || ws.Col != 100 {
		t.Errorf("initial size: got %+v, %v, want 30x100", ws, err)
	}

	// A window change on the caller's terminal follows SIGWINCH.
	if err := SetSize(userMaster, 50, 160); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(os.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
		if err != nil {
			t.Fatal(err)
		}
		if ws.Row == 50 && ws.Col == 160 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("size after SIGWINCH: got %dx%d, want 50x160", ws.Row, ws.Col)
		}
		time.Sleep(10 * time.Millisecond)
	}

	stop()
	after, err := unix.IoctlGetTermios(int(userTTY.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal not restored:\n got %+v\nwant %+v", after, before)
	}
}
