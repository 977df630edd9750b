package libcontainer

import (
	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/manager"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// The state dir's types are internal/state's; callers of libcontainer name
// them here.
type (
	// Status is the derived lifecycle state of a container.
	Status = state.Status
	// State is what state.json holds (state.State).
	State = state.State
)

// The statuses a container has (state.Status).
const (
	Stopped  = state.Stopped
	Created  = state.Created
	Running  = state.Running
	Paused   = state.Paused
	Creating = state.Creating
)

// loadCgroup rebuilds the container's cgroup manager with the driver it was
// created with.
func loadCgroup(st *State) (cgroups.Manager, error) {
	if st.SystemdUnit != "" {
		return manager.LoadSystemd(st.CgroupPaths, st.SystemdUnit)
	}
	return manager.Load(st.CgroupPaths)
}
