package fs2

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestIOMaxLines(t *testing.T) {
	b := &configs.BlockIO{
		ThrottleReadBpsDevice:   []configs.ThrottleDevice{{Major: 8, Minor: 0, Rate: 1000}},
		ThrottleWriteBpsDevice:  []configs.ThrottleDevice{{Major: 8, Minor: 16, Rate: 2000}, {Major: 8, Minor: 0, Rate: 3000}},
		ThrottleWriteIOPSDevice: []configs.ThrottleDevice{{Major: 8, Minor: 0, Rate: 0}},
	}
	want := []string{"8:0 rbps=1000 wbps=3000 wiops=max", "8:16 wbps=2000"}
	if got := IOMaxLines(b); !slices.Equal(got, want) {
		t.Errorf("IOMaxLines = %q, want %q", got, want)
	}
}

func TestCPUMax(t *testing.T) {
	q := func(v int64) *int64 { return &v }
	p := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		cur    string
		quota  *int64
		period *uint64
		want   string
	}{
		{"max 100000", q(50000), nil, "50000 100000"},
		{"50000 100000", nil, p(20000), "50000 20000"},
		{"50000 100000", q(-1), nil, "max 100000"},
		{"50000 100000", q(0), p(0), "max 100000"},
	} {
		got, err := CPUMax(tc.cur, tc.quota, tc.period)
		if err != nil || got != tc.want {
			t.Errorf("CPUMax(%q) = %q, %v; want %q", tc.cur, got, err, tc.want)
		}
	}
}

func TestSetUnifiedFakeDir(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"memory.high", "pids.max", "cgroup.procs"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	enabled := []string{"memory"}
	for _, tc := range []struct {
		key, err string
	}{
		{"memory.high", ""},
		{"pids.max", `linux.resources.unified["pids.max"]: pids controller not available`},
		{"../memory.high", "not a cgroup file name"},
		{"memory", "not a cgroup file name"},
		{"cgroup.procs", "reserved for the runtime"},
		{"memory.nope", "no such file or directory"},
	} {
		err := setUnified(dir, enabled, map[string]string{tc.key: "123"})
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("key %q: err = %v, want %q", tc.key, err, tc.err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "memory.high")); string(b) != "123" {
		t.Errorf("memory.high = %q", b)
	}
}
