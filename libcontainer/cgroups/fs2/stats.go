package fs2

import (
	"fmt"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

// Stats reads the counters of the container's cgroup. cpu.stat is always
// there; the files of a controller not enabled for the cgroup are missing,
// and its part stays zero.
func (m *Manager) Stats() (*cgroups.Stats, error) {
	s := &cgroups.Stats{Hugetlb: map[string]cgroups.Hugetlb{}}
	for _, c := range []struct {
		name string
		stat func(dir string, s *cgroups.Stats) error
	}{
		{"cpu", statCPU},
		{"memory", statMemory},
		{"pids", cgfile.StatPids},
		{"io", statIO},
		{"hugetlb", statHugetlb},
	} {
		if err := c.stat(m.path, s); err != nil {
			return nil, fmt.Errorf("%s stats: %w", c.name, err)
		}
	}
	return s, nil
}
