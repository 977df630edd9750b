// Package sigrelay catches the signals a foreground run, exec or restore
// passes on to its container, with a C handler that writes each to a pipe.
package sigrelay

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int relay_fd = -1;

// The write end is non-blocking: a full pipe drops a signal instead of
// stalling whichever thread the kernel chose to run the handler on.
static void relay(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(relay_fd, &b, 1) < 0) {
		// Dropped: nothing else is safe to do in a handler.
	}
	errno = saved;
}

// SA_ONSTACK: Go threads run with small stacks and an alternate signal stack,
// and the runtime requires it of every handler it does not own.
static int relay_install(int fd, int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = relay;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	relay_fd = fd;
	return sigaction(sig, &sa, NULL);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Relayed are the signals Go's os/signal delivers to signal.Notify(ch) with
// no list, less SIGURG (the runtime's preemption), SIGPROF (its profiler)
// and SIGWINCH (the console's, which os/signal keeps): what runc forwards.
// SIGCHLD is among them to wake the reaper. 32-34 belong to the C library.
var Relayed = func() []unix.Signal {
	var sigs []unix.Signal
	for s := unix.Signal(1); s <= 64; s++ {
		switch {
		case s == unix.SIGKILL, s == unix.SIGSTOP, s == unix.SIGURG, s == unix.SIGPROF, s == unix.SIGWINCH:
		case s == unix.SIGILL, s == unix.SIGTRAP, s == unix.SIGBUS, s == unix.SIGFPE, s == unix.SIGSEGV:
			// Faults of our own, which the Go runtime turns into panics.
		case s == unix.SIGSTKFLT, s == unix.SIGSYS:
			// Not notifiable in Go either: the runtime dies on them.
		case s >= 32 && s <= 34:
		default:
			sigs = append(sigs, s)
		}
	}
	return sigs
}()

// Relay is the read end of the pipe the handler writes to; the write end
// stays open, held by the handler, for the life of the process.
type Relay struct{ r int }

// Install takes over the Relayed signals for the rest of the process.
//
// os/signal's Notify would do as well, but it enables one signal at a time
// through a round trip with the runtime's signal-mask thread, and for the
// fifty-odd signals a runtime forwards that was ~9 % of the CPU of a whole
// `run`. Go's own handler never sees these signals again; nothing else in
// this process may ask os/signal for them. A child's handlers go back to
// the default at fork (the runtime resets every signal it installed a
// handler for) and again at execve, so no child ever runs this one.
func Install() (*Relay, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	for _, s := range Relayed {
		if rc, err := C.relay_install(C.int(p[1]), C.int(s)); rc != 0 {
			// Those installed stay: the caller fails and exits anyway.
			return nil, fmt.Errorf("sigaction %d: %w", int(s), err)
		}
	}
	return &Relay{r: p[0]}, nil
}

// Next blocks until a signal arrives and returns it.
func (r *Relay) Next() (unix.Signal, error) {
	var b [1]byte
	for {
		n, err := unix.Read(r.r, b[:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0:
			return 0, errors.New("signal pipe closed")
		}
		return unix.Signal(b[0]), nil
	}
}
