package fs2

import (
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setPids writes pids.max; a limit <= 0 means unlimited.
func setPids(w cgfile.Writer, p *configs.Pids) error {
	if p == nil {
		return nil
	}
	v := "max"
	if p.Limit > 0 {
		v = strconv.FormatInt(p.Limit, 10)
	}
	return w.Write("linux.resources.pids.limit", "pids.max", v)
}
