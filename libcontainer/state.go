package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/manager"
	"github.com/ocirun/ocirun/libcontainer/configs"
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

// CanDelete without --force: a stopped container, or a created one (runc kills
// its waiting init; containerd's shim deletes created tasks without --force).
func (s Status) CanDelete() bool { return s == Stopped || s == Created }

const (
	stateFile  = "state.json"
	configFile = "config.json"
	fifoName   = "exec.fifo"
)

// State is what `ocirun create` leaves in <root>/<id>/state.json: only what
// `state` and `list` print and what status is derived from, so listing
// hundreds of containers reads a few hundred bytes each. The normalized
// config (tens of KiB with a seccomp profile) is in config.json beside it,
// read only by the commands that need it.
type State struct {
	ID          string            `json:"id"`
	InitPid     int               `json:"initPid"`
	InitStart   uint64            `json:"initStartTime"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// SystemdUnit is the container's unit when it was created with
	// --systemd-cgroup: later commands (update, delete) go through systemd.
	SystemdUnit string `json:"systemdUnit,omitempty"`
	// Config is config.json, loaded on demand (Container.Config).
	Config *configs.Config `json:"-"`
}

// saveState writes state.json, and config.json when withConfig, atomically:
// a reader sees the old or the new file, never a torn one. fsync is skipped:
// the state dir lives on a tmpfs (/run) in every deployment that matters,
// and rename is atomic without it.
func saveState(dir string, st *State, withConfig bool) error {
	if withConfig {
		if err := saveConfig(dir, st.Config); err != nil {
			return err
		}
	}
	b, err := plainjson.Marshal(st)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), b, 0o600)
}

// saveConfig writes the container's normalised config beside its state;
// it never changes after create.
func saveConfig(dir string, cfg *configs.Config) error {
	b, err := plainjson.Marshal(cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, configFile), b, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func loadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := plainjson.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func loadConfig(dir string) (*configs.Config, error) {
	path := filepath.Join(dir, configFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg configs.Config
	if err := plainjson.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &cfg, nil
}

// procStat returns the start time (field 22) and state (field 3) of pid from
// /proc/<pid>/stat. The comm field may contain spaces and parens: parse from
// the last ')'.
func procStat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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

// initAlive reports whether the recorded init still runs: the same pid with the
// same start time (so a recycled pid is not mistaken for it) and not a zombie.
func (st *State) initAlive() bool {
	if st.InitPid <= 0 {
		return false
	}
	start, state, err := procStat(st.InitPid)
	if err != nil || start != st.InitStart {
		return false
	}
	return state != 'Z' && state != 'X'
}

// loadCgroup rebuilds the container's cgroup manager with the driver it was
// created with.
func (st *State) loadCgroup() (cgroups.Manager, error) {
	if st.SystemdUnit != "" {
		return manager.LoadSystemd(st.CgroupPaths, st.SystemdUnit)
	}
	return manager.Load(st.CgroupPaths)
}

// lockDir takes an exclusive flock on the container dir; every operation that
// changes a container holds it, so concurrent kill/delete/start from a shim
// cannot interleave. The lock dies with the fd.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	return f, nil
}
