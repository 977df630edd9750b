package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/ocirun/ocirun/libcontainer/cgroups/fs1"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgtest"
	"github.com/ocirun/ocirun/libcontainer/configs"
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
	if pureV2(got) {
		t.Error("hybrid layout reported as pure v2")
	}
	if !pureV2([]Hierarchy{want[1], want[2]}) {
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
	got, err := ownCgroups(f)
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

// TestNewApplyLoad drives the host's real manager: New with an empty path
// puts the container under this process's own cgroups, and Load from the
// saved paths manages the same dirs.
func TestNewApplyLoad(t *testing.T) {
	cgtest.RequireRoot(t)
	id := cgtest.Name(t)
	m, err := New(&configs.Cgroup{}, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Error(err)
		}
	})
	own, err := ownCgroups("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, ctrl := range []string{"memory", "pids"} {
		if p := m.Path(ctrl); p != "" && !strings.HasSuffix(p, filepath.Join(own[ctrl], id)) && !IsV2() {
			t.Errorf("Path(%s) = %s, want it under own cgroup %s", ctrl, p, own[ctrl])
		}
	}
	child := cgtest.StartSleeper(t, nil)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(child.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasSuffix(l, "/"+id) {
			t.Errorf("child not in its cgroup in every hierarchy: %q", l)
		}
	}
	l, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := l.GetPids(); err != nil || !slices.Equal(pids, []int{child.Process.Pid}) {
		t.Errorf("loaded GetPids = %v, %v", pids, err)
	}
	if _, ok := l.(*fs1.Manager); ok == IsV2() {
		t.Errorf("Load picked %T on IsV2=%v", l, IsV2())
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Paths() {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Destroy", p)
		}
	}
}
