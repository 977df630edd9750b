package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestQuantile(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"one", []float64{3}, 0.95, 3},
		{"odd median", []float64{5, 1, 3}, 0.5, 3},
		{"even median", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"p95 interpolates", []float64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 0.95, 95},
		{"max", []float64{1, 2, 9}, 1, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := quantile(tc.xs, tc.q)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-9) {
				t.Fatalf("quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	hybrid := "9:name=systemd:/\n4:memory:/a/b\n3:cpu,cpuacct:/x\n0::/\n"
	tests := []struct {
		name    string
		in      string
		v1      bool
		want    string
		wantErr bool
	}{
		{"v1 memory line", hybrid, true, "/a/b", false},
		{"v2 line", "0::/user.slice/s\n", false, "/user.slice/s", false},
		{"v1 missing memory", "3:cpu:/x\n", true, "", true},
		{"v2 missing", "4:memory:/a\n", false, "", true},
		{"memory among others", "5:memory,hugetlb:/m\n", true, "/m", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcCgroup(tc.in, tc.v1)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestMarkdownRatios(t *testing.T) {
	r := newResults()
	for _, v := range []float64{10, 20, 30} {
		r.add("run.wall", "ocirun", v)
		r.add("run.wall", "runc", 2*v)
	}
	ms := []metric{
		{"run.median", "run.wall", median, "ms", "run median"},
		{"exec", "exec.wall", median, "ms", "exec median"},
	}
	tb := buildTable(r, ms, []string{"ocirun", "runc"})
	md := tb.markdown()
	for _, want := range []string{
		"| metric | unit | ocirun | runc | runc/ocirun |",
		"| run median | ms | 20.0 | 40.0 | 2.00 |",
		"| exec median | ms | n/a | n/a | n/a |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	data, lo, hi := chartData(tb)
	if !strings.Contains(data, `"run.median" 1.0000 2.0000`) || !strings.Contains(data, `"exec" ? ?`) {
		t.Errorf("chart data:\n%s", data)
	}
	if lo >= 1 || hi <= 2 {
		t.Errorf("chart range [%v, %v] does not hold 1 and 2 with a margin", lo, hi)
	}
}

func TestMakeConfig(t *testing.T) {
	tmpl := map[string]any{
		"process": map[string]any{"terminal": true, "args": []any{"sh"}, "cwd": "/"},
		"root":    map[string]any{"path": "rootfs", "readonly": true},
		"linux": map[string]any{"namespaces": []any{
			map[string]any{"type": "pid"},
			map[string]any{"type": "network"},
			map[string]any{"type": "mount"},
		}},
	}
	b, err := makeConfig(tmpl, "/w/rootfs", "/m/ocirun-bench-1/runc/x", []string{"sleep", "3600"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Process struct {
			Terminal bool
			Args     []string
			Cwd      string
		}
		Root  struct{ Path string }
		Linux struct {
			CgroupsPath string
			Namespaces  []struct{ Type string }
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Process.Terminal || strings.Join(got.Process.Args, " ") != "sleep 3600" || got.Process.Cwd != "/" {
		t.Errorf("process = %+v", got.Process)
	}
	if got.Root.Path != "/w/rootfs" || got.Linux.CgroupsPath != "/m/ocirun-bench-1/runc/x" {
		t.Errorf("root %q, cgroupsPath %q", got.Root.Path, got.Linux.CgroupsPath)
	}
	if len(got.Linux.Namespaces) != 2 || got.Linux.Namespaces[1].Type != "mount" {
		t.Errorf("namespaces = %+v, want pid and mount", got.Linux.Namespaces)
	}
	// The template is shared by every container: it must not change.
	if tmpl["process"].(map[string]any)["terminal"] != true {
		t.Error("makeConfig modified the template")
	}
}

func TestRollupField(t *testing.T) {
	s := "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  1234 kB\nPss:  567 kB\nPss_Anon: 12 kB\n"
	if v, err := rollupField(s, "Pss:"); err != nil || v != 567 {
		t.Fatalf("Pss = %d, %v; want 567", v, err)
	}
	if _, err := rollupField(s, "Swap:"); err == nil {
		t.Fatal("missing field: want an error")
	}
}

// TestSeccompProfile: the generated profile allows the host's syscalls but
// the denied ones, and lands in linux.seccomp.
func TestSeccompProfile(t *testing.T) {
	p, err := seccompProfile()
	if err != nil {
		t.Skipf("no profile on this host: %v", err)
	}
	rules := p["syscalls"].([]any)
	names := rules[0].(map[string]any)["names"].([]string)
	if !slices.Contains(names, "read") || slices.Contains(names, "mount") || slices.Contains(names, "clone") {
		t.Errorf("allowlist of %d names: read in %v, mount in %v, clone in %v", len(names),
			slices.Contains(names, "read"), slices.Contains(names, "mount"), slices.Contains(names, "clone"))
	}
	tmpl := map[string]any{"process": map[string]any{}, "linux": map[string]any{}}
	out, err := makeConfig(withSeccomp(tmpl, p), "/rootfs", "/cg", []string{"true"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tmpl["linux"].(map[string]any)["seccomp"]; ok {
		t.Errorf("withSeccomp changed the template it was given")
	}
	if !strings.Contains(string(out), `"defaultAction": "SCMP_ACT_ERRNO"`) {
		t.Errorf("config without the profile: %.300s", out)
	}
}
