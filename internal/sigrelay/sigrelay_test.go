package sigrelay

import (
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRelayed(t *testing.T) {
	for _, s := range []unix.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGUSR1, unix.SIGTSTP, unix.SIGCHLD, unix.SIGPIPE, 35, 37, 64} {
		if !slices.Contains(Relayed, s) {
			t.Errorf("signal %d (%s) is not relayed", int(s), unix.SignalName(s))
		}
	}
	for _, s := range []unix.Signal{unix.SIGKILL, unix.SIGSTOP, unix.SIGURG, unix.SIGPROF, unix.SIGWINCH, unix.SIGSEGV, 32, 33, 34} {
		if slices.Contains(Relayed, s) {
			t.Errorf("signal %d (%s) is relayed", int(s), unix.SignalName(s))
		}
	}
}

// TestInstall sends signals to ourselves, several of which would end a Go
// program by default, and reads them back in order.
func TestInstall(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := Install()
	if err != nil {
		t.Fatal(err)
	}
	want := []unix.Signal{unix.SIGUSR1, unix.SIGTERM, unix.SIGHUP, 40}
	for _, s := range want {
		// tgkill to this thread: the handler has run when the call returns.
		if err := unix.Tgkill(unix.Getpid(), unix.Gettid(), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got != s {
			t.Errorf("got signal %d, want %d", int(got), int(s))
		}
	}
}
