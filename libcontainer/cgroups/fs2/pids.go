package fs2

import (
	"math"
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/cgroups/stats"
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

// statPids reads pids.current and pids.max ("max" → 0, unlimited).
func statPids(dir string, s *stats.Stats) error {
	if !cgfile.Exists(dir, "pids.current") {
		return nil
	}
	cur, err := cgfile.ReadUint(dir, "pids.current")
	if err != nil {
		return err
	}
	limit, err := cgfile.ReadUint(dir, "pids.max")
	if err != nil {
		return err
	}
	if limit == math.MaxUint64 {
		limit = 0
	}
	s.Pids = stats.Pids{Current: cur, Limit: limit}
	return nil
}
