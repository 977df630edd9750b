package fs2

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestStatFiles(t *testing.T) {
	tests := []struct {
		name  string
		stat  func(string, *cgroups.Stats) error
		files map[string]string
		want  cgroups.Stats
	}{{
		name:  "cpu",
		stat:  statCPU,
		files: map[string]string{"cpu.stat": "usage_usec 30\nuser_usec 20\nsystem_usec 10\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n"},
		want: cgroups.Stats{CPU: cgroups.CPU{
			Usage:      cgroups.CPUUsage{Total: 30000, User: 20000, Kernel: 10000},
			Throttling: cgroups.Throttling{Periods: 5, ThrottledPeriods: 2, ThrottledTime: 7000},
		}},
	}, {
		name: "memory with swap",
		stat: statMemory,
		files: map[string]string{
			"memory.stat":         "anon 8192\nfile 4096\n",
			"memory.current":      "12288\n",
			"memory.max":          "1048576\n",
			"memory.peak":         "20480\n",
			"memory.events":       "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
			"memory.swap.current": "4096\n",
			"memory.swap.max":     "max\n",
			"memory.swap.events":  "high 0\nmax 0\nfail 0\n",
		},
		want: cgroups.Stats{Memory: cgroups.Memory{
			Cache: 4096, Raw: map[string]uint64{"anon": 8192, "file": 4096},
			Usage: cgroups.MemoryEntry{Usage: 12288, Limit: 1048576, Max: 20480, Failcnt: 3},
			Swap:  cgroups.MemoryEntry{Usage: 16384, Limit: math.MaxUint64},
		}},
	}, {
		name:  "memory controller not enabled",
		stat:  statMemory,
		files: map[string]string{"cgroup.procs": ""},
	}, {
		name:  "pids",
		stat:  cgfile.StatPids,
		files: map[string]string{"pids.current": "3\n", "pids.max": "100\n"},
		want:  cgroups.Stats{Pids: cgroups.Pids{Current: 3, Limit: 100}},
	}, {
		name:  "io",
		stat:  statIO,
		files: map[string]string{"io.stat": "8:0 rbytes=4096 wbytes=512 rios=1 wios=2 dbytes=0 dios=0\n"},
		want: cgroups.Stats{Blkio: cgroups.Blkio{
			IoServiceBytesRecursive: []cgroups.BlkioEntry{dev8("Read", 4096), dev8("Write", 512), dev8("Discard", 0)},
			IoServicedRecursive:     []cgroups.BlkioEntry{dev8("Read", 1), dev8("Write", 2), dev8("Discard", 0)},
		}},
	}, {
		name: "hugetlb",
		stat: statHugetlb,
		files: map[string]string{
			"hugetlb.2MB.current": "2097152\n", "hugetlb.2MB.events": "max 4\n", "hugetlb.2MB.rsvd.current": "0\n",
		},
		want: cgroups.Stats{Hugetlb: map[string]cgroups.Hugetlb{"2MB": {Usage: 2097152, Failcnt: 4}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
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

func TestStatIOBad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "io.stat"), []byte("8:x rbytes=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := statIO(dir, &cgroups.Stats{}); err == nil {
		t.Error("statIO accepted device 8:x")
	}
}

// TestStatsAndOOM runs against a real v2 cgroup (the v2 VM; skipped where
// the memory and pids controllers are not enabled): Stats of a sleeper, then
// a hog born into the 32M cgroup is OOM-killed and NotifyOOM reports it, and
// the channel closes once the cgroup is empty.
func TestStatsAndOOM(t *testing.T) {
	m := hostManager(t, "")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	needControllers(t, m, "memory", "pids")
	limit := int64(32 << 20)
	if err := m.Set(&configs.Resources{Memory: &configs.Memory{Limit: &limit, Swap: &limit}, Pids: &configs.Pids{Limit: 100}}); err != nil {
		t.Fatal(err)
	}
	fd, err := m.CgroupFD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	into := &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	sleeper := cgtest.StartSleeper(t, into)
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Pids.Current < 1 || s.Pids.Limit != 100 || s.Memory.Usage.Limit != uint64(limit) || s.CPU.Usage.Total == 0 {
		t.Errorf("stats = %+v, want pids >= 1 of 100, memory limit %d, cpu usage", s, limit)
	}

	stop := make(chan struct{})
	defer close(stop)
	ch, err := m.NotifyOOM(stop)
	if err != nil {
		t.Fatal(err)
	}
	hog, release := cgtest.StartHog(t, into)
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
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("a second oom event")
		}
	case <-time.After(5 * time.Second):
		t.Error("oom channel still open 5s after the cgroup emptied")
	}
}

// dev8 is an entry of device 8:0.
func dev8(op string, v uint64) cgroups.BlkioEntry {
	return cgroups.BlkioEntry{Major: 8, Minor: 0, Op: op, Value: v}
}
