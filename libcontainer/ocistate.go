package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
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

// ociState is the state JSON a hook reads on stdin (runtime-spec "State").
func (c *Container) ociState(status Status) []byte {
	return hookState(c.ID, c.state.InitPid, status, c.state.Bundle, c.state.Config)
}

func hookState(id string, pid int, status Status, bundle string, cfg *configs.Config) []byte {
	s := specs.State{
		Version:     specs.Version,
		ID:          id,
		Status:      specs.ContainerState(status.String()),
		Pid:         pid,
		Bundle:      bundle,
		Annotations: cfg.Annotations,
	}
	b, _ := plainjson.Marshal(s)
	return b
}

func runHooks(kind, dir string, hs []configs.Hook, state []byte) error {
	return hooks.RunIn(kind, dir, hs, state)
}

// sendSeccompFd hands the container's seccomp notify fd, with the container
// process state the spec describes, to linux.seccomp.listenerPath.
func (p *initProcess) sendSeccompFd(fd *os.File) error {
	defer fd.Close()
	sc := p.proc.Seccomp
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("protocol: unexpected seccomp-fd message")
	}
	status := Created
	if p.running {
		status = Running
	}
	st := specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      p.initPid,
		Metadata: sc.ListenerMetadata,
		State: specs.State{
			Version:     specs.Version,
			ID:          p.id,
			Status:      specs.ContainerState(status.String()),
			Pid:         p.initPid,
			Bundle:      p.bundle,
			Annotations: p.annotations,
		},
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := seccomp.SendNotifyFd(sc.ListenerPath, int(fd.Fd()), b); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", sc.ListenerPath, err)
	}
	return nil
}
