package fs1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// fakeDir makes a dir with the given control files, as cgroupfs would have.
func fakeDir(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for f, v := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSetWritersFakeDir(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // initial content
		set   func(dir string) error
		want  map[string]string
		err   string
	}{
		{
			name:  "cpu period before quota, burst, idle",
			files: map[string]string{"cpu.cfs_period_us": "", "cpu.cfs_quota_us": "", "cpu.cfs_burst_us": "", "cpu.idle": ""},
			set: func(d string) error {
				return setCPU(cgfile.Writer{Dir: d}, &configs.CPU{Quota: ptr(int64(-1)), Period: ptr(uint64(5000)), Burst: ptr(uint64(10)), Idle: ptr(int64(1))})
			},
			want: map[string]string{"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "5000", "cpu.cfs_burst_us": "10", "cpu.idle": "1"},
		},
		{
			name:  "missing knob names the field",
			files: map[string]string{},
			set:   func(d string) error { return setCPU(cgfile.Writer{Dir: d}, &configs.CPU{Idle: ptr(int64(1))}) },
			err:   "linux.resources.cpu.idle: open",
		},
		{
			name:  "bfq weight fallback and throttles",
			files: map[string]string{"blkio.bfq.weight": "", "blkio.bfq.weight_device": "", "blkio.throttle.read_bps_device": ""},
			set: func(d string) error {
				return setBlkio(cgfile.Writer{Dir: d}, &configs.BlockIO{
					Weight:                ptr(uint16(300)),
					WeightDevice:          []configs.WeightDevice{{Major: 8, Minor: 0, Weight: ptr(uint16(200))}},
					ThrottleReadBpsDevice: []configs.ThrottleDevice{{Major: 8, Minor: 0, Rate: 1000}},
				})
			},
			want: map[string]string{"blkio.bfq.weight": "300", "blkio.bfq.weight_device": "8:0 200", "blkio.throttle.read_bps_device": "8:0 1000"},
		},
		{
			name:  "memory without swap accounting",
			files: map[string]string{"memory.limit_in_bytes": ""},
			set: func(d string) error {
				return setMemory(cgfile.Writer{Dir: d}, &configs.Memory{Limit: ptr(int64(100)), Swap: ptr(int64(200))})
			},
			err: "linux.resources.memory.swap: swap accounting is not enabled",
		},
		{
			name:  "memory grow writes memsw first",
			files: map[string]string{"memory.limit_in_bytes": "", memswFile: "150"},
			set: func(d string) error {
				return setMemory(cgfile.Writer{Dir: d}, &configs.Memory{Limit: ptr(int64(100)), Swap: ptr(int64(200)), Kernel: ptr(int64(5))})
			},
			want: map[string]string{"memory.limit_in_bytes": "100", memswFile: "200"},
		},
		{
			name:  "hugetlb and rdma",
			files: map[string]string{"hugetlb.2MB.limit_in_bytes": "", "rdma.max": ""},
			set: func(d string) error {
				w := cgfile.Writer{Dir: d}
				if err := setHugetlb(w, []configs.HugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}); err != nil {
					return err
				}
				return setRdma(w, map[string]configs.Rdma{"mlx5_0": {HcaHandles: ptr(uint32(3))}})
			},
			want: map[string]string{"hugetlb.2MB.limit_in_bytes": "4194304", "rdma.max": "mlx5_0 hca_handle=3"},
		},
		{
			name:  "hugetlb page size cannot escape",
			files: map[string]string{},
			set: func(d string) error {
				return setHugetlb(cgfile.Writer{Dir: d}, []configs.HugepageLimit{{Pagesize: "../x", Limit: 1}})
			},
			err: "linux.resources.hugepageLimits[0].pageSize: invalid page size",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeDir(t, tc.files)
			err := tc.set(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for f, want := range tc.want {
				if got := read(t, dir, f); got != want {
					t.Errorf("%s = %q, want %q", f, got, want)
				}
			}
		})
	}
}
