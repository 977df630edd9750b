package fs1

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStatFiles(t *testing.T) {
	tests := []struct {
		name  string
		stat  func(string, *cgroups.Stats) error
		files map[string]string
		want  cgroups.Stats
	}{{
		name: "cpuacct",
		stat: statCpuacct,
		files: map[string]string{
			"cpuacct.usage":             "3000\n",
			"cpuacct.usage_percpu":      "1000 2000 \n",
			"cpuacct.usage_percpu_user": "600 1500\n",
			"cpuacct.usage_percpu_sys":  "400 500\n",
			"cpuacct.stat":              "user 2\nsystem 1\n",
		},
		want: cgroups.Stats{CPU: cgroups.CPU{Usage: cgroups.CPUUsage{
			Total: 3000, Percpu: []uint64{1000, 2000}, PercpuUser: []uint64{600, 1500}, PercpuKernel: []uint64{400, 500},
			User: 20_000_000, Kernel: 10_000_000,
		}}},
	}, {
		name:  "cpu throttling",
		stat:  statCPU,
		files: map[string]string{"cpu.stat": "nr_periods 10\nnr_throttled 3\nthrottled_time 777\nnr_bursts 0\n"},
		want:  cgroups.Stats{CPU: cgroups.CPU{Throttling: cgroups.Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 777}}},
	}, {
		name: "pids unlimited",
		stat: cgfile.StatPids,
		files: map[string]string{
			"pids.current": "4\n", "pids.max": "max\n",
		},
		want: cgroups.Stats{Pids: cgroups.Pids{Current: 4}},
	}, {
		name: "memory without swap accounting",
		stat: statMemory,
		files: map[string]string{
			"memory.stat":               "cache 4096\nrss 8192\n",
			"memory.usage_in_bytes":     "12288\n",
			"memory.max_usage_in_bytes": "20480\n",
			"memory.failcnt":            "2\n",
			"memory.limit_in_bytes":     "9223372036854771712\n",
		},
		want: cgroups.Stats{Memory: cgroups.Memory{
			Cache: 4096, Raw: map[string]uint64{"cache": 4096, "rss": 8192},
			Usage: cgroups.MemoryEntry{Usage: 12288, Max: 20480, Failcnt: 2, Limit: 9223372036854771712},
		}},
	}, {
		name: "blkio throttle counters",
		stat: statBlkio,
		files: map[string]string{
			"blkio.io_service_bytes_recursive":          "Total 0\n",
			"blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 512\nTotal 4608\n",
			"blkio.throttle.io_serviced_recursive":      "8:0 Read 1\n8:0 Write 1\nTotal 2\n",
		},
		want: cgroups.Stats{Blkio: cgroups.Blkio{
			IoServiceBytesRecursive: []cgroups.BlkioEntry{dev8("Read", 4096), dev8("Write", 512)},
			IoServicedRecursive:     []cgroups.BlkioEntry{dev8("Read", 1), dev8("Write", 1)},
		}},
	}, {
		name: "hugetlb",
		stat: statHugetlb,
		files: map[string]string{
			"hugetlb.2MB.usage_in_bytes": "2097152\n", "hugetlb.2MB.max_usage_in_bytes": "4194304\n", "hugetlb.2MB.failcnt": "1\n",
		},
		want: cgroups.Stats{Hugetlb: map[string]cgroups.Hugetlb{"2MB": {Usage: 2097152, Max: 4194304, Failcnt: 1}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			var got cgroups.Stats
			if tc.want.Hugetlb != nil {
				got.Hugetlb = map[string]cgroups.Hugetlb{}
			}
			if err := tc.stat(dir, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestStatFilesBad(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pids.current": "many\n", "pids.max": "max"})
	if err := cgfile.StatPids(dir, &cgroups.Stats{}); err == nil {
		t.Error("cgfile.StatPids accepted pids.current \"many\"")
	}
}

// TestStatsAndOOM checks Stats against a real v1 cgroup holding one sleeper,
// and that an OOM notification channel closes when the cgroup is removed.
func TestStatsAndOOM(t *testing.T) {
	m := hostManager(t)
	need(t, m, "pids")
	need(t, m, "memory")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	limit := int64(64 << 20)
	if err := m.Set(&configs.Resources{Memory: &configs.Memory{Limit: &limit}, Pids: &configs.Pids{Limit: 10}}); err != nil {
		t.Fatal(err)
	}
	cmd := cgtest.StartSleeper(t, nil)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// pids.current counts tasks: the Go sleeper has several threads.
	if s.Pids.Current < 1 || s.Pids.Limit != 10 {
		t.Errorf("pids = %+v, want current >= 1, limit 10", s.Pids)
	}
	if s.Memory.Usage.Limit != uint64(limit) || s.Memory.Raw == nil {
		t.Errorf("memory = %+v, want limit %d and memory.stat", s.Memory.Usage, limit)
	}

	stop := make(chan struct{})
	defer close(stop)
	ch, err := m.NotifyOOM(stop)
	if err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("an oom event when the cgroup was removed")
		}
	case <-time.After(5 * time.Second):
		t.Error("oom channel still open 5s after the cgroup was removed (pid " + strconv.Itoa(cmd.Process.Pid) + ")")
	}
}

// TestNotifyOOM: a hog in a 32M memory cgroup (memsw too, so that it cannot
// swap) is OOM-killed and the eventfd reports it.
func TestNotifyOOM(t *testing.T) {
	m := hostManager(t)
	need(t, m, "memory")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	limit := int64(32 << 20)
	mem := &configs.Memory{Limit: &limit}
	if cgfileExists(m.Path("memory"), memswFile) {
		mem.Swap = &limit
	}
	if err := m.Set(&configs.Resources{Memory: mem}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	ch, err := m.NotifyOOM(stop)
	if err != nil {
		t.Fatal(err)
	}
	hog, release := cgtest.StartHog(t, nil)
	if err := m.Apply(hog.Process.Pid); err != nil {
		t.Fatal(err)
	}
	release()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("oom channel closed without an event")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no oom event within 15s")
	}
	_ = hog.Wait()
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Max < uint64(limit)/2 {
		t.Errorf("memory stats after the oom: %+v, want max near %d", s.Memory.Usage, limit)
	}
}

func cgfileExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// dev8 is an entry of device 8:0.
func dev8(op string, v uint64) cgroups.BlkioEntry {
	return cgroups.BlkioEntry{Major: 8, Minor: 0, Op: op, Value: v}
}
