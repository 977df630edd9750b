package libcontainer

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func init() {
	// The main goroutine keeps the main thread: an nsThread, which leaves its
	// thread in a container's namespaces, must never land on it (the kernel
	// answers /proc/self with the main thread's view).
	runtime.LockOSThread()
}

// nsThread runs functions on one OS thread that joined a starting init's
// mount, network, UTS, IPC and cgroup namespaces. It is how the parent builds
// a container's filesystem while init, in C, waits: the setup code is the
// Go rootfs package, run by a Go runtime that has already started, instead
// of a second Go runtime in init (~2.5 ms and ~1.3 MiB per container).
//
// A thread may join a mount namespace once its fs struct is its own
// (unshare(CLONE_FS)); the other four namespaces are per thread anyway. The
// user and pid namespaces cannot be joined by a multithreaded process: a
// container with a user namespace is built by the Go init instead, and the
// container's procfs comes from contexts init opened in its pid namespace.
// The thread is never handed back to the Go scheduler: it exits with its
// goroutine, and the runtime starts new threads from a clean template
// thread, never from a locked one.
type nsThread struct {
	reqs chan func()
}

// joinedNS are the namespaces an nsThread enters, where init has them.
const joinedNS = unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

// startNSThread starts a thread in the namespaces of init (pid) among
// joinedNS that flags names: those the container has, new or joined. Init
// shares the others with us, and joining them again is not always allowed:
// as root of a user namespace (rootless podman), the host's cgroup
// namespace, which the container keeps, belongs to a user namespace we have
// no capability in, and setns refuses it with EPERM.
func startNSThread(pid int, flags int) (*nsThread, error) {
	t := &nsThread{reqs: make(chan func())}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never undone: the thread dies with us
		if err := joinNamespaces(pid, flags&joinedNS); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for f := range t.reqs {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("join the namespaces of init %d: %w", pid, err)
	}
	return t, nil
}

func joinNamespaces(pid int, flags int) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return os.NewSyscallError("unshare(CLONE_FS)", err)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(fd)
	// One setns with a pidfd joins them all at once, without a /proc lookup.
	if err := unix.Setns(fd, flags); err != nil {
		return os.NewSyscallError("setns", err)
	}
	return nil
}

// Do runs f on the thread and returns its error.
func (t *nsThread) Do(f func() error) error {
	return t.Start(f)()
}

// Start runs f on the thread while the caller goes on; the function it
// returns waits for f's error.
func (t *nsThread) Start(f func() error) (wait func() error) {
	done := make(chan error, 1)
	t.reqs <- func() { done <- f() }
	return func() error { return <-done }
}

// Close ends the thread.
func (t *nsThread) Close() {
	if t != nil {
		close(t.reqs)
	}
}
