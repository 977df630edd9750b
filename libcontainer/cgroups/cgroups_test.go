package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
)

func TestMain(m *testing.M) { cgtest.Main(m) }

func TestHierarchiesFrom(t *testing.T) {
	mounts := []*mountinfo.Info{
		{Major: 0, Minor: 29, Root: "/", Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", VFSOptions: "rw,cpu,cpuacct"},
		{Major: 0, Minor: 30, Root: "/", Mountpoint: "/sys/fs/cgroup/systemd", FSType: "cgroup", VFSOptions: "rw,xattr,release_agent=/x,name=systemd"},
		{Major: 0, Minor: 31, Root: "/", Mountpoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", VFSOptions: "rw,nsdelegate"},
		{Major: 0, Minor: 32, Root: "/sub", Mountpoint: "/mnt/mem", FSType: "cgroup", VFSOptions: "rw,memory"},
		{Major: 0, Minor: 32, Root: "/", Mountpoint: "/sys/fs/cgroup/memory", FSType: "cgroup", VFSOptions: "rw,memory"},
		{Major: 0, Minor: 29, Root: "/", Mountpoint: "/elsewhere", FSType: "cgroup", VFSOptions: "rw,cpu,cpuacct"},
	}
	want := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Controllers: []string{"cpu", "cpuacct"}},
		{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Controllers: []string{"name=systemd"}},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", V2: true},
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Controllers: []string{"memory"}},
	}
	got := hierarchiesFrom(mounts)
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Mountpoint != w.Mountpoint || g.Root != w.Root || g.V2 != w.V2 || !slices.Equal(g.Controllers, w.Controllers) {
			t.Errorf("[%d] = %+v, want %+v", i, g, w)
		}
	}
	if PureV2(got) {
		t.Error("hybrid layout reported as pure v2")
	}
	if !PureV2([]Hierarchy{want[1], want[2]}) {
		t.Error("cgroup2 plus name=systemd should count as pure v2")
	}
}

func TestResolve(t *testing.T) {
	hs := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Controllers: []string{"cpuacct", "cpu"}},
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Controllers: []string{"memory"}},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", V2: true},
		{Mountpoint: "/mnt/pids", Root: "/outer", Controllers: []string{"pids"}},
	}
	own := map[string]string{"cpu,cpuacct": "/", "memory": "/process_api/abc", "": "/", "pids": "/outer/me"}
	for _, tc := range []struct {
		path string
		want []string
		err  string
	}{
		{"ctr", []string{"/sys/fs/cgroup/cpu,cpuacct/ctr", "/sys/fs/cgroup/memory/process_api/abc/ctr", "/sys/fs/cgroup/unified/ctr", "/mnt/pids/me/ctr"}, ""},
		{"/abs/ctr", []string{"/sys/fs/cgroup/cpu,cpuacct/abs/ctr", "/sys/fs/cgroup/memory/abs/ctr", "/sys/fs/cgroup/unified/abs/ctr", "/mnt/pids/abs/ctr"}, ""},
		{"a/../../x", nil, `linux.cgroupsPath: "a/../../x" must not contain ".."`},
	} {
		dirs, err := resolve(hs, own, tc.path)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: err = %v, want %q", tc.path, err, tc.err)
			}
			continue
		}
		var got []string
		for _, d := range dirs {
			got = append(got, d.Path)
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
}

func TestOwnCgroups(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cgroup")
	content := "9:name=systemd:/\n4:memory:/process_api/x\n1:cpuacct,cpu:/a\n0::/b\n"
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := OwnCgroups(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name=systemd": "/", "memory": "/process_api/x", "cpu,cpuacct": "/a", "": "/b"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %q, want %q", k, got[k], v)
		}
	}
}
