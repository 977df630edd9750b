package systemd

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path, id  string
		unit, dir string
		err       string
	}{
		{path: "", id: "c1", unit: "ocirun-c1.scope", dir: "/system.slice/ocirun-c1.scope"},
		{path: "system.slice:docker:abc", unit: "docker-abc.scope", dir: "/system.slice/docker-abc.scope"},
		{path: ":libpod:abc", unit: "libpod-abc.scope", dir: "/system.slice/libpod-abc.scope"},
		{path: "machine.slice::abc", unit: "abc.scope", dir: "/machine.slice/abc.scope"},
		{
			path: "kubepods-burstable-pod1234.slice:cri-containerd:abc", unit: "cri-containerd-abc.scope",
			dir: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-abc.scope",
		},
		{path: "-.slice:p:n", unit: "p-n.scope", dir: "/p-n.scope"},
		// A nested slice lives where its own name says.
		{path: "system.slice:ocirun:system-foo.slice", unit: "system-foo.slice", dir: "/system.slice/system-foo.slice"},
		{path: "kubepods.slice:x:kubepods-besteffort.slice", unit: "kubepods-besteffort.slice", dir: "/kubepods.slice/kubepods-besteffort.slice"},
		{path: "/sys/fs/cgroup/foo", err: `linux.cgroupsPath: "/sys/fs/cgroup/foo" is not "slice:prefix:name"`},
		{path: "a:b", err: `is not "slice:prefix:name"`},
		{path: "a.slice:b:c:d", err: `is not "slice:prefix:name"`},
		{path: "system.slice:p:", err: "empty name"},
		{path: "system:p:n", err: `linux.cgroupsPath: "system:p:n": slice "system"`},
		{path: "a--b.slice:p:n", err: `"a--b.slice:p:n": slice "a--b.slice"`},
		{path: "-a.slice:p:n", err: "cannot lead"},
		{path: "a-.slice:p:n", err: "cannot lead, trail"},
		{path: "a/b.slice:p:n", err: `must not contain "/"`},
		{path: "system.slice:p:a/b", err: `must not contain "/"`},
		{path: "system.slice:p:bad-.slice", err: `slice "bad-.slice"`},
	} {
		u, err := ParsePath(tc.path, tc.id)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParsePath(%q) = %+v, %v; want error with %q", tc.path, u, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.path, err)
			continue
		}
		dir, err := u.Dir()
		if u.Name != tc.unit || dir != tc.dir || err != nil {
			t.Errorf("ParsePath(%q) = unit %q dir %q (%v), want %q %q", tc.path, u.Name, dir, err, tc.unit, tc.dir)
		}
	}
}

func TestExpandSlice(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"-.slice", "/"},
		{"system.slice", "/system.slice"},
		{"a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"},
		{"user-1000.slice", "/user.slice/user-1000.slice"},
		{".slice", ""},
		{"a.scope", ""},
		{"a-b", ""},
		{"a--b.slice", ""},
		{"-a.slice", ""},
		{"a/b.slice", ""},
	} {
		got, err := ExpandSlice(tc.in)
		if tc.out == "" {
			if err == nil {
				t.Errorf("ExpandSlice(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.out {
			t.Errorf("ExpandSlice(%q) = %q, %v; want %q", tc.in, got, err, tc.out)
		}
	}
}
