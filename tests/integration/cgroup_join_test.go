package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// TestCgroupJoinedEverywhere: a created init, and a process exec'd into the
// running container, are in the container's cgroup in every hierarchy the
// host mounts, read from the host side (cgroup.procs). On cgroup v1 ocirun's
// init joins each hierarchy by itself before it forks; the hybrid host's
// cgroup2 tree and a pure v2 host use CLONE_INTO_CGROUP.
func TestCgroupJoinedEverywhere(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	dirs, err := bundle.CgroupDirs(b.CgroupsPath)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("container cgroup dirs: %v %v", dirs, err)
	}
	in := func(what string, pid int) {
		t.Helper()
		for _, d := range dirs {
			data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			if err != nil {
				t.Errorf("%s: %v", what, err)
				continue
			}
			if !slices.Contains(strings.Fields(string(data)), strconv.Itoa(pid)) {
				t.Errorf("%s (pid %d) is not in %s: %q", what, pid, d, data)
			}
		}
	}
	if r := b.Create(t); r.Code != 0 {
		t.Fatal(r)
	}
	in("created init", b.MustState(t).Pid)
	b.Start(t)
	pidFile := filepath.Join(b.Dir, "exec.pid")
	b.MustRun(t, "exec", "-d", "--pid-file", pidFile, b.ID, "/bin/sleep", "60")
	in("exec'd process", waitPidFile(t, pidFile))
}
