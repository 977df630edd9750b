package libcontainer

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// InUserNS reports whether ocirun runs in a user namespace other than the
// host's (rootless podman runs it as uid 0 of its own).
func InUserNS() bool { return sys.InUserNS() }

// rootlessCgroup is what create does with a cgroup it may not make when
// Root.RootlessCgroups is set: an unprivileged user can use cgroups only
// where a cgroup v2 subtree was delegated to it. Without one, a config that
// sets no limits runs without a cgroup of its own (in ocirun's, with a
// warning); one that sets limits is refused: silently unlimited would be a
// lie. A permission error is the only one forgiven.
func rootlessCgroup(cfg *configs.Config, cg cgroups.Manager, err error, warn func(string)) (cgroups.Manager, error) {
	if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
		return nil, err
	}
	if cg != nil {
		_ = cg.Destroy() // dirs made in the hierarchies we could write
	}
	if f := limitField(cfg.Cgroups.Resources); f != "" {
		return nil, fmt.Errorf("linux.resources.%s: a limit needs a cgroup, and this user may not make one "+
			"(a cgroup v2 subtree delegated to the user is needed): %w", f, err)
	}
	warn(fmt.Sprintf("rootless: no cgroup of the container's own (%v); it stays in ocirun's cgroup", err))
	return noCgroup{}, nil
}

// limitField names the first field of r that needs a cgroup to be applied,
// "" if none does. Device rules are not limits here: in a user namespace
// the container cannot make device nodes, and those the user can open are
// the user's already.
func limitField(r *configs.Resources) string {
	if r == nil {
		return ""
	}
	switch {
	case r.Memory != nil && *r.Memory != (configs.Memory{}):
		return "memory"
	case r.CPU != nil && !cpuEmpty(r.CPU):
		return "cpu"
	case r.Pids != nil:
		return "pids"
	case r.BlockIO != nil:
		return "blockIO"
	case len(r.HugepageLimits) > 0:
		return "hugepageLimits"
	case r.Network != nil:
		return "network"
	case len(r.Rdma) > 0:
		return "rdma"
	case len(r.Unified) > 0:
		return "unified"
	}
	return ""
}

func cpuEmpty(c *configs.CPU) bool {
	return c.Shares == nil && c.Quota == nil && c.Burst == nil && c.Period == nil &&
		c.RealtimeRuntime == nil && c.RealtimePeriod == nil && c.Idle == nil && c.Cpus == "" && c.Mems == ""
}

// withoutDevices is r without its device rules, for a rootless cgroup:
// loading the v2 device filter (eBPF) needs privileges over the host, and a
// v1 devices controller is never delegated.
func withoutDevices(r *configs.Resources) *configs.Resources {
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	c := *r
	c.Devices = nil
	return &c
}

// noCgroup is the manager of a container without a cgroup of its own
// (rootless, nothing delegated): its processes stay in ocirun's cgroup, and
// the state records no cgroup paths, so later commands see none.
type noCgroup struct{}

var errNoCgroup = errors.New("the container has no cgroup (rootless)")

func (noCgroup) Apply(int) error                                    { return nil }
func (noCgroup) CgroupFD() (*os.File, error)                        { return nil, errNoCgroup }
func (noCgroup) Set(*configs.Resources) error                       { return nil }
func (noCgroup) Destroy() error                                     { return nil }
func (noCgroup) Paths() map[string]string                           { return nil }
func (noCgroup) Path(string) string                                 { return "" }
func (noCgroup) GetPids() ([]int, error)                            { return nil, errNoCgroup }
func (noCgroup) Freeze() error                                      { return errNoCgroup }
func (noCgroup) Thaw() error                                        { return errNoCgroup }
func (noCgroup) IsFrozen() (bool, error)                            { return false, nil }
func (noCgroup) Exists() bool                                       { return false }
func (noCgroup) Stats() (*cgroups.Stats, error)                     { return nil, errNoCgroup }
func (noCgroup) NotifyOOM(<-chan struct{}) (<-chan struct{}, error) { return nil, errNoCgroup }
