package fs1

import (
	"fmt"
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setNetwork writes net_cls.classid and one net_prio.ifpriomap line per
// interface (the kernel takes one "name prio" pair per write).
func setNetwork(cls, prio cgfile.Writer, n *configs.Network) error {
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		if err := cls.Write("linux.resources.network.classID", "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	for i, p := range n.Priorities {
		field := fmt.Sprintf("linux.resources.network.priorities[%d]", i)
		if !cgfile.ValidName(p.Name) {
			return fmt.Errorf("%s.name: invalid interface name %q", field, p.Name)
		}
		if err := prio.Write(field, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
			return err
		}
	}
	return nil
}
