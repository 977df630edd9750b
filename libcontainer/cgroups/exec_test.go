package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSubCgroupPaths(t *testing.T) {
	tmp := t.TempDir()
	hs := []Hierarchy{
		{Mountpoint: tmp + "/cpu,cpuacct", Root: "/", Controllers: []string{"cpu", "cpuacct"}},
		{Mountpoint: tmp + "/memory", Root: "/", Controllers: []string{"memory"}},
		{Mountpoint: tmp + "/unified", Root: "/", V2: true},
	}
	base := map[string]string{}
	for _, h := range hs {
		base[h.Mountpoint] = filepath.Join(h.Mountpoint, "ctr")
		if err := os.MkdirAll(filepath.Join(base[h.Mountpoint], "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		sub  map[string]string
		want map[string]string // mountpoint (without tmp) → dir (without tmp)
		err  string
	}{
		{"all hierarchies", map[string]string{"": "sub"}, map[string]string{
			"/cpu,cpuacct": "/cpu,cpuacct/ctr/sub", "/memory": "/memory/ctr/sub", "/unified": "/unified/ctr/sub",
		}, ""},
		{"one controller", map[string]string{"cpuacct": "sub"}, map[string]string{
			"/cpu,cpuacct": "/cpu,cpuacct/ctr/sub", "/memory": "/memory/ctr", "/unified": "/unified/ctr",
		}, ""},
		{"unified by name", map[string]string{"unified": "./sub/"}, map[string]string{
			"/cpu,cpuacct": "/cpu,cpuacct/ctr", "/memory": "/memory/ctr", "/unified": "/unified/ctr/sub",
		}, ""},
		{"missing", map[string]string{"memory": "nope"}, nil, "does not exist"},
		{"outside", map[string]string{"": "../x"}, nil, "must be a path below"},
		{"absolute", map[string]string{"": "/x"}, nil, "must be a path below"},
		{"unknown controller", map[string]string{"pids": "sub"}, nil, "no such controller"},
	} {
		got, err := subCgroupPaths(hs, base, tc.sub)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		short := map[string]string{}
		for k, v := range got {
			short[strings.TrimPrefix(k, tmp)] = strings.TrimPrefix(v, tmp)
		}
		if err != nil || !reflect.DeepEqual(short, tc.want) {
			t.Errorf("%s: = %v, %v; want %v", tc.name, short, err, tc.want)
		}
	}
}

func TestRestoreRoots(t *testing.T) {
	hs := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Controllers: []string{"cpu", "cpuacct"}},
		{Mountpoint: "/sys/fs/cgroup/pids", Root: "/outer", Controllers: []string{"pids"}},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", V2: true},
	}
	paths := map[string]string{
		"/sys/fs/cgroup/cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/a/ctr",
		"/sys/fs/cgroup/pids":        "/sys/fs/cgroup/pids/me/ctr",
		"/sys/fs/cgroup/unified":     "/sys/fs/cgroup/unified/a/ctr",
	}
	want := []Root{{Controllers: "cpu,cpuacct", Path: "/a/ctr"}, {Controllers: "pids", Path: "/outer/me/ctr"}}
	if got := restoreRoots(hs, paths); !reflect.DeepEqual(got, want) {
		t.Errorf("v1 roots = %+v, want %+v", got, want)
	}
	if got := restoreRoots(hs[2:], paths); got != nil {
		t.Errorf("pure v2 roots = %+v, want none (criu is born in the cgroup)", got)
	}
}
