package libcontainer

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCIState is what `state` and `list --format json` print, field for field as runc.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// OCIState reports the container as the `state` command shows it; a stopped
// container has pid 0, as in runc.
func (c *Container) OCIState() *OCIState {
	st := c.Status()
	pid := c.state.InitPid
	if st == Stopped {
		pid = 0
	}
	return &OCIState{
		OCIVersion:  specs.Version,
		ID:          c.ID,
		Pid:         pid,
		Status:      st.String(),
		Bundle:      c.state.Bundle,
		Rootfs:      c.state.Rootfs,
		Created:     c.state.Created,
		Annotations: c.state.Annotations,
		Owner:       c.state.Owner,
	}
}
