package fs2

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

// Files a unified key may not name: moving processes and delegating
// controllers are the runtime's job, and writing them would break Apply's
// invariants (a leaf with processes and no subtree_control).
var reservedUnified = map[string]bool{
	"cgroup.procs": true, "cgroup.threads": true, "cgroup.subtree_control": true, "cgroup.type": true,
}

// setUnified writes linux.resources.unified. Each key must be a plain file
// name ("<controller>.<knob>") of a controller enabled in the cgroup, so a
// key cannot reach outside the container's dir.
func setUnified(dir string, enabled []string, u map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(u)) {
		field := fmt.Sprintf("linux.resources.unified[%q]", k)
		ctrl, _, ok := strings.Cut(k, ".")
		if !cgfile.ValidName(k) || !ok || ctrl == "" {
			return fmt.Errorf("%s: not a cgroup file name", field)
		}
		if reservedUnified[k] {
			return fmt.Errorf("%s: reserved for the runtime", field)
		}
		if ctrl != "cgroup" && !slices.Contains(enabled, ctrl) {
			return fmt.Errorf("%s: %s controller not available", field, ctrl)
		}
		if err := cgfile.WriteFile(dir, k, u[k]); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	return nil
}
