package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// Status is the derived lifecycle state of a container.
type Status int

const (
	Stopped Status = iota
	Created
	Running
	Paused
	Creating
)

// String is the status as `state` prints it, in the runtime-spec's words.
func (s Status) String() string {
	switch s {
	case Created:
		return "created"
	case Running:
		return "running"
	case Paused:
		return "paused"
	case Creating:
		return "creating"
	}
	return "stopped"
}

// CanStart reports whether the container can start: only a created one
// (init waiting on exec.fifo) can.
func (s Status) CanStart() bool { return s == Created }

// CanSignal reports whether the init may be signalled: runc signals
// created, running and paused containers.
func (s Status) CanSignal() bool { return s == Created || s == Running || s == Paused }

// CanDelete reports whether the container may go without --force: a
// stopped one, or a created one (runc kills its waiting init; containerd's
// shim deletes created tasks without --force).
func (s Status) CanDelete() bool { return s == Stopped || s == Created }

// Derive tells the status of the container in dir from facts, never from a
// stored field alone: a live init with the recorded start time is running,
// created while exec.fifo exists, paused while frozen reports true (nil:
// the container has no cgroup); anything else is stopped.
func (st *State) Derive(dir string, frozen func() bool) Status {
	if !st.InitAlive() {
		if st.InitPid == 0 && st.creatorAlive() {
			return Creating
		}
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(dir, FifoName)); err == nil {
		return Created
	}
	if frozen != nil && frozen() {
		return Paused
	}
	return Running
}

// RecordInit records pid as the container's init with its start time, so
// that a recycled pid is never taken for it.
func (st *State) RecordInit(pid int) error {
	start, _, err := ProcStat(pid)
	if err != nil {
		return err
	}
	st.InitPid, st.InitStart = pid, start
	return nil
}

// RecordCreator records the calling process as the one making the
// container (State.CreatorPid).
func (st *State) RecordCreator() error {
	pid := os.Getpid()
	start, _, err := ProcStat(pid)
	if err != nil {
		return err
	}
	st.CreatorPid, st.CreatorStart = pid, start
	return nil
}

// creatorAlive reports whether the recorded creator still runs. One that
// died (killed mid-create) leaves a container that is stopped: delete
// removes what it made.
func (st *State) creatorAlive() bool {
	if st.CreatorPid <= 0 {
		return false
	}
	start, state, err := ProcStat(st.CreatorPid)
	return err == nil && start == st.CreatorStart && state != 'Z' && state != 'X'
}

// InitAlive reports whether the recorded init still runs: the same pid with
// the same start time (so a recycled pid is not mistaken for it) and not a
// zombie.
func (st *State) InitAlive() bool {
	if st.InitPid <= 0 {
		return false
	}
	start, state, err := ProcStat(st.InitPid)
	if err != nil || start != st.InitStart {
		return false
	}
	return state != 'Z' && state != 'X'
}

// ProcStat returns the start time (field 22) and state (field 3) of pid from
// /proc/<pid>/stat. The comm field may contain spaces and parens: parse from
// the last ')'.
func ProcStat(pid int) (start uint64, state byte, err error) {
	b, err := sys.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+2:]))
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return start, fields[0][0], nil
}
