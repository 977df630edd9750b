package fs2

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

// NotifyOOM sends on the returned channel when the oom_kill counter of
// memory.events grows, and closes it when stop is closed or the cgroup has no
// process left (cgroup.events "populated 0"). v2 has no eventfd interface;
// both files raise inotify IN_MODIFY when their content changes.
func (m *Manager) NotifyOOM(stop <-chan struct{}) (<-chan struct{}, error) {
	if !cgfile.Exists(m.path, "memory.events") {
		return nil, errors.New("oom notifications: memory controller not available")
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	in := os.NewFile(uintptr(fd), "inotify")
	for _, f := range []string{"memory.events", "cgroup.events"} {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(m.path, f), unix.IN_MODIFY); err != nil {
			in.Close()
			return nil, &os.PathError{Op: "inotify_add_watch", Path: filepath.Join(m.path, f), Err: err}
		}
	}
	prev, err := m.oomKills()
	if err != nil {
		in.Close()
		return nil, err
	}
	check := func() (notify, over bool) {
		n, err := m.oomKills()
		if err != nil {
			return false, true
		}
		notify = n > prev
		prev = max(prev, n)
		ev, err := cgfile.ReadFile(m.path, "cgroup.events")
		return notify, err != nil || strings.Contains(ev, "populated 0")
	}
	return cgfile.Watch(stop, in, check), nil
}

func (m *Manager) oomKills() (uint64, error) {
	kv, err := cgfile.ReadKeyed(m.path, "memory.events")
	if err != nil {
		return 0, err
	}
	return kv["oom_kill"], nil
}
