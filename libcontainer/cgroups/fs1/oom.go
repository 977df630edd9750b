package fs1

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

// NotifyOOM sends on the returned channel after each OOM in the container's
// memory cgroup, and closes it when stop is closed or the cgroup is removed.
// v1 delivers OOMs through an eventfd registered in cgroup.event_control
// against memory.oom_control.
func (m *Manager) NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error) {
	dir := m.Path("memory")
	if dir == "" {
		return nil, errors.New("oom notifications: memory controller not available")
	}
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that os.File puts it in the poller and a read
	// deadline can interrupt the wait.
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ctl.Close()
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	if err := cgfile.WriteFile(dir, "cgroup.event_control", fmt.Sprintf("%d %d", efd, ctl.Fd())); err != nil {
		ev.Close()
		ctl.Close()
		return nil, fmt.Errorf("register oom eventfd: %w", err)
	}
	// The kernel also signals the eventfd when the cgroup is removed; then
	// there is nothing left to watch.
	gone := func() (notify, over bool) {
		if !cgfile.Exists(dir, "cgroup.event_control") {
			return false, true
		}
		return true, false
	}
	return cgfile.Watch(stop, ev, gone, ctl), nil
}
