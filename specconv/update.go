package specconv

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// ToResources converts the linux.resources of an `update` request with the
// rules `create` uses. Device rules are dropped (and no default rules are
// added): update changes limits, not the device policy, as in runc.
func ToResources(r *specs.LinuxResources) (*configs.Resources, error) {
	var c configs.Config
	var ps problem.List
	convertCgroup(&specs.Linux{Resources: r}, &c, &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	res := c.Cgroups.Resources
	res.Devices = nil
	return res, nil
}
