package cgroups

import (
	"reflect"
	"testing"
)

func TestSystemdDirs(t *testing.T) {
	hs := []Hierarchy{
		{Mountpoint: "/sys/fs/cgroup/systemd", Root: "/", Controllers: []string{"name=systemd"}},
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/", Controllers: []string{"cpuacct", "cpu"}},
		{Mountpoint: "/sys/fs/cgroup/memory", Root: "/", Controllers: []string{"memory"}},
		{Mountpoint: "/sys/fs/cgroup/pids", Root: "/ctr", Controllers: []string{"pids"}},
		{Mountpoint: "/sys/fs/cgroup/unified", Root: "/", V2: true},
	}
	const dir = "/system.slice/ocirun-x.scope"
	for _, tc := range []struct {
		name string
		pid1 map[string]string
		want []string
	}{
		{
			name: "systemd on the host (or in its own cgroup namespace)",
			pid1: map[string]string{"name=systemd": "/init.scope", "cpu,cpuacct": "/", "memory": "/", "pids": "/", "": "/init.scope"},
			want: []string{
				"/sys/fs/cgroup/systemd/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/cpu,cpuacct/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/memory/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/pids/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/unified/system.slice/ocirun-x.scope",
			},
		},
		{
			name: "systemd in a container without a cgroup namespace",
			pid1: map[string]string{"name=systemd": "/docker/c1/init.scope", "cpu,cpuacct": "/docker/c1", "memory": "/docker/c1", "pids": "/ctr/sub", "": "/docker/c1/init.scope"},
			want: []string{
				"/sys/fs/cgroup/systemd/docker/c1/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/cpu,cpuacct/docker/c1/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/memory/docker/c1/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/pids/sub/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/unified/docker/c1/system.slice/ocirun-x.scope",
			},
		},
		{
			name: "pid 1 unknown or outside the mounted part",
			pid1: map[string]string{"pids": "/ctrx"},
			want: []string{
				"/sys/fs/cgroup/systemd/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/cpu,cpuacct/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/memory/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/pids/system.slice/ocirun-x.scope",
				"/sys/fs/cgroup/unified/system.slice/ocirun-x.scope",
			},
		},
	} {
		var got []string
		for _, d := range systemdDirs(hs, tc.pid1, dir) {
			got = append(got, d.Path)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got  %q\n want %q", tc.name, got, tc.want)
		}
	}
}
