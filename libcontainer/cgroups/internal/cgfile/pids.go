package cgfile

import (
	"math"
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// The pids controller has the same files on cgroup v1 and v2.

// SetPids writes pids.max: -1 (any negative) is "max", and 0 is written as
// 0. runc 1.4 writes 1 for 0; the runtime-spec says 0 is a valid limit that
// runtimes SHOULD treat as such, and we follow the spec. Either way nothing
// in the container can fork once its first process is in.
func SetPids(w Writer, p *configs.Pids) error {
	if p == nil {
		return nil
	}
	v := "max"
	if p.Limit >= 0 {
		v = strconv.FormatInt(p.Limit, 10)
	}
	return w.Write("linux.resources.pids.limit", "pids.max", v)
}

// StatPids reads pids.current and pids.max ("max" → 0, unlimited). A
// cgroup without them (the v2 root) reports nothing.
func StatPids(dir string, s *cgroups.Stats) error {
	if !Exists(dir, "pids.current") {
		return nil
	}
	cur, err := ReadUint(dir, "pids.current")
	if err != nil {
		return err
	}
	limit, err := ReadUint(dir, "pids.max")
	if err != nil {
		return err
	}
	if limit == math.MaxUint64 {
		limit = 0
	}
	s.Pids = cgroups.Pids{Current: cur, Limit: limit}
	return nil
}
