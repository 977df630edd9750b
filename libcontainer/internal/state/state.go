package state

import (
	"bytes"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
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
	// NoNewKeyring: created with --no-new-keyring. Otherwise every process
	// exec starts joins the container's session keyring ("_ses.<id>"), as
	// runc's do, and never keeps the one of whoever ran exec.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// CreatorPid and CreatorStart name the `ocirun create` (or restore)
	// still making the container: state.json is first written before
	// anything else is made, so that whatever a killed creator leaves
	// (cgroup, state dir) is known to `delete`. The final save clears them.
	CreatorPid   int    `json:"creatorPid,omitempty"`
	CreatorStart uint64 `json:"creatorStartTime,omitempty"`
	// Config is config.json, loaded on demand (LoadConfig).
	Config *configs.Config `json:"-"`
}

// Save writes state.json atomically (WriteFileAtomic).
func Save(dir string, st *State) error {
	b, err := plainjson.Marshal(st)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, StateFile), b, 0o600)
}

// SaveConfig writes the container's normalized config beside its state;
// it never changes after create, but for the limits `update` merges in.
// It returns what it wrote, for LoadConfig's known.
func SaveConfig(dir string, cfg *configs.Config) ([]byte, error) {
	b, err := plainjson.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return b, WriteFileAtomic(filepath.Join(dir, ConfigFile), b, 0o600)
}

// Load reads state.json of the container dir, without the config. A
// missing file is os.ErrNotExist; one that does not decode is an error
// naming it.
func Load(dir string) (*State, error) {
	b, err := sys.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := plainjson.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, StateFile), err)
	}
	return &st, nil
}

// LoadConfig reads config.json of the container dir, and returns it with
// the bytes read. When those are known's (what the caller last read or
// wrote), cfg is nil: decoding tens of KiB again, which every command
// did twice (before and after taking the lock), costs ~0.2 ms.
func LoadConfig(dir string, known []byte) (cfg *configs.Config, raw []byte, err error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := sys.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if known != nil && bytes.Equal(b, known) {
		return nil, b, nil
	}
	cfg = new(configs.Config)
	if err := plainjson.Unmarshal(b, cfg); err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return cfg, b, nil
}

// SaveStartPlan writes StartPlan for the recorded init: its pid and start
// time, which `start` checks /proc against, as InitAlive does.
func SaveStartPlan(dir string, st *State) error {
	b := fmt.Appendf(nil, "%d %d\n", st.InitPid, st.InitStart)
	return WriteFileAtomic(filepath.Join(dir, StartPlan), b, 0o600)
}
