package manager

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// BenchmarkLifecycle is the cgroup work of one container's life with the
// driver this host gets, each phase reported on its own: create (New,
// Apply(-1)), join (Apply(pid), v1 only: v2 is born in its cgroup), limits
// (Set of a runc-spec-like config) and delete (Load, Destroy).
//
//	go test -run '^$' -bench Lifecycle ./libcontainer/cgroups/manager
func BenchmarkLifecycle(b *testing.B) {
	cgtest.RequireRoot(b)
	sleeper := cgtest.StartSleeper(b, nil)
	pid := strconv.Itoa(sleeper.Process.Pid)
	p := func(v int64) *int64 { return &v }
	rules := []configs.DeviceRule{{Type: 'a', Major: -1, Minor: -1, Access: "rwm"}}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}, {136, -1}} {
		rules = append(rules, configs.DeviceRule{Allow: true, Type: 'c', Major: d[0], Minor: d[1], Access: "rwm"})
	}
	shares := uint64(512)
	res := &configs.Resources{
		Devices: rules,
		Memory:  &configs.Memory{Limit: p(256 << 20)},
		Pids:    &configs.Pids{Limit: 100},
		CPU:     &configs.CPU{Shares: &shares},
	}
	cfg := &configs.Cgroup{Path: cgtest.Name(b), Resources: res}
	var create, join, limits, del time.Duration
	for b.Loop() {
		t := time.Now()
		m, err := New(cfg, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(-1); err != nil {
			b.Fatal(err)
		}
		create += time.Since(t)
		if !cgroups.IsV2() {
			t = time.Now()
			if err := m.Apply(sleeper.Process.Pid); err != nil {
				b.Fatal(err)
			}
			join += time.Since(t)
		}
		t = time.Now()
		if err := m.Set(res); err != nil {
			b.Fatal(err)
		}
		limits += time.Since(t)
		paths := m.Paths()
		for _, dir := range paths {
			// Back to the parent (the caller's own cgroup), untimed.
			_ = os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.procs"), []byte(pid), 0)
		}
		t = time.Now()
		l, err := Load(paths)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Destroy(); err != nil {
			b.Fatal(err)
		}
		del += time.Since(t)
	}
	n := float64(b.N) * float64(time.Millisecond)
	b.ReportMetric(float64(create)/n, "create-ms/op")
	b.ReportMetric(float64(join)/n, "join-ms/op")
	b.ReportMetric(float64(limits)/n, "limits-ms/op")
	b.ReportMetric(float64(del)/n, "delete-ms/op")
}
