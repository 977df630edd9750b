package rootfs

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestSplitData(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"size=65536k,mode=755", []string{"size=65536k", "mode=755"}},
		{"lowerdir=/a\\,b:/c,upperdir=/u", []string{"lowerdir=/a\\,b:/c", "upperdir=/u"}},
		{`context="system_u:object_r:x:s0:c1,c2",mode=1777`, []string{`context="system_u:object_r:x:s0:c1,c2"`, "mode=1777"}},
		{",,newinstance,", []string{"newinstance"}},
	}
	for _, tt := range tests {
		if got := splitData(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitData(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFsOptionsContext: the SELinux mount label travels as quoted mount(2)
// data; fsconfig gets the bare context, commas and all.
func TestFsOptionsContext(t *testing.T) {
	m := &configs.Mount{Device: "tmpfs", Data: `mode=755,context="system_u:object_r:x:s0:c1,c2"`}
	got := fsOptions(m, "")
	if len(got) != 2 || got[1].Key != "context" || got[1].Value != "system_u:object_r:x:s0:c1,c2" || !got[1].HasValue {
		t.Fatalf("fsOptions = %+v", got)
	}
}

// TestFsOptionsMountLabel: linux.mountLabel is the context of the
// filesystems that take one when made, and of no other.
func TestFsOptionsMountLabel(t *testing.T) {
	const l = "system_u:object_r:container_file_t:s0:c1,c2"
	for _, tc := range []struct {
		fstype, data string
		want         []string
	}{
		{"tmpfs", "", []string{"context=" + l}},
		{"tmpfs", "mode=755,size=65536k", []string{"mode=755", "size=65536k", "context=" + l}},
		{"devpts", "newinstance", []string{"newinstance", "context=" + l}},
		{"mqueue", "", nil}, // labelled on its root instead: its superblock is the IPC namespace's
		{"proc", "", nil},
		{"sysfs", "", nil},
		{"cgroup", "", nil},
	} {
		var got []string
		for _, o := range fsOptions(&configs.Mount{Device: tc.fstype, Data: tc.data}, l) {
			s := o.Key
			if o.HasValue {
				s += "=" + o.Value
			}
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %q: %q, want %q", tc.fstype, tc.data, got, tc.want)
		}
	}
	if got := fsOptions(&configs.Mount{Device: "tmpfs", Data: "mode=755"}, ""); len(got) != 1 {
		t.Errorf("no label: %+v", got)
	}
}

func TestMountAttr(t *testing.T) {
	tests := []struct {
		name       string
		set, clear int
		want       unix.MountAttr
	}{
		{"ro nosuid", unix.MS_RDONLY | unix.MS_NOSUID, 0,
			unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID}},
		{"rw clears", 0, unix.MS_RDONLY | unix.MS_NODEV,
			unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}},
		{"strictatime", unix.MS_STRICTATIME, 0,
			unix.MountAttr{Attr_set: unix.MOUNT_ATTR_STRICTATIME, Attr_clr: unix.MOUNT_ATTR__ATIME}},
		{"noatime nosymfollow", unix.MS_NOATIME | unix.MS_NOSYMFOLLOW, 0,
			unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOATIME | unix.MOUNT_ATTR_NOSYMFOLLOW, Attr_clr: unix.MOUNT_ATTR__ATIME}},
	}
	for _, tt := range tests {
		if got := mountAttr(tt.set, tt.clear); *got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, *got, tt.want)
		}
	}
}

func TestCheckProcDest(t *testing.T) {
	proc := configs.Mount{Device: "proc"}
	tmpfs := configs.Mount{Device: "tmpfs"}
	bind := configs.Mount{Device: "bind", Flags: unix.MS_BIND}
	tests := []struct {
		dest    string
		m       configs.Mount
		magic   int64
		wantErr string
	}{
		{"/proc", proc, 0, ""},
		{"/proc", tmpfs, 0, "only procfs"},
		{"/proc", bind, 0, "only procfs"},
		{"/proc", bind, unix.PROC_SUPER_MAGIC, ""},
		{"/proc/cpuinfo", bind, 0, ""},
		{"/proc/sys/kernel/ns_last_pid", bind, 0, ""},
		{"/proc/self/attr/apparmor/exec", bind, 0, "lxcfs allowlist"},
		{"/proc/sys", tmpfs, 0, "lxcfs allowlist"},
		{"/procfoo", tmpfs, 0, ""},
	}
	for _, tt := range tests {
		err := checkProcDest(tt.dest, &tt.m, tt.magic)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkProcDest(%q, %s): %v, want %q", tt.dest, tt.m.Device, err, tt.wantErr)
		}
	}
}

// FuzzSplitData: the parts of a mount data string are never empty, never
// longer together than the string, and split again to themselves.
func FuzzSplitData(f *testing.F) {
	for _, s := range []string{"size=1m,mode=755", `context="a,b",ro`, `lowerdir=/a\,b:/c,upperdir=/u`, ",,x,,", `"`, `\`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := splitData(s)
		n := 0
		for _, p := range parts {
			if p == "" {
				t.Fatalf("%q: empty part in %q", s, parts)
			}
			n += len(p)
		}
		if n > len(s) {
			t.Fatalf("%q: parts %q are longer than the string", s, parts)
		}
		if again := splitData(strings.Join(parts, ",")); !slices.Equal(again, parts) {
			t.Fatalf("%q: %q splits again into %q", s, parts, again)
		}
	})
}
