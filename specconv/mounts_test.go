package specconv

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestParseMountOptions(t *testing.T) {
	tests := []struct {
		opts    []string
		want    MountOptions
		wantErr string
	}{
		{opts: nil, want: MountOptions{}},
		{opts: []string{"ro"}, want: MountOptions{Flags: unix.MS_RDONLY}},
		{opts: []string{"ro", "rw"}, want: MountOptions{ClearedFlags: unix.MS_RDONLY}},
		{opts: []string{"rw", "ro"}, want: MountOptions{Flags: unix.MS_RDONLY}},
		{opts: []string{"nosuid", "nodev", "noexec", "dev"}, want: MountOptions{Flags: unix.MS_NOSUID | unix.MS_NOEXEC, ClearedFlags: unix.MS_NODEV}},
		{opts: []string{"suid", "exec", "async", "nomand", "atime", "diratime", "norelatime", "nostrictatime", "nolazytime", "loud", "symfollow", "noiversion"},
			want: MountOptions{ClearedFlags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK | unix.MS_NOATIME |
				unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_LAZYTIME | unix.MS_SILENT | unix.MS_NOSYMFOLLOW | unix.MS_I_VERSION}},
		{opts: []string{"sync", "dirsync", "remount", "mand", "noatime", "nodiratime", "relatime", "strictatime", "lazytime", "silent", "nosymfollow", "iversion"},
			want: MountOptions{Flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_REMOUNT | unix.MS_MANDLOCK | unix.MS_NOATIME |
				unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_LAZYTIME | unix.MS_SILENT | unix.MS_NOSYMFOLLOW | unix.MS_I_VERSION}},
		{opts: []string{"bind"}, want: MountOptions{Flags: unix.MS_BIND}},
		{opts: []string{"rbind"}, want: MountOptions{Flags: unix.MS_BIND | unix.MS_REC}},
		{opts: []string{"private", "rshared", "slave", "runbindable"}, want: MountOptions{Propagation: []int{
			unix.MS_PRIVATE, unix.MS_SHARED | unix.MS_REC, unix.MS_SLAVE, unix.MS_UNBINDABLE | unix.MS_REC}}},
		{opts: []string{"rprivate", "shared", "rslave", "unbindable"}, want: MountOptions{Propagation: []int{
			unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC, unix.MS_UNBINDABLE}}},
		{opts: []string{"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"}, want: MountOptions{
			RecAttrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		{opts: []string{"rro", "rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"}, want: MountOptions{
			RecAttrClr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW}},
		// An atime mode in attr_set needs MOUNT_ATTR__ATIME in attr_clr.
		{opts: []string{"rnoatime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_NOATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{opts: []string{"rrelatime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_RELATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{opts: []string{"rnoatime", "rrelatime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_RELATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{opts: []string{"rstrictatime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_STRICTATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		// Negated atime modes select another mode: clearing one alone is EINVAL.
		{opts: []string{"rnoatime", "ratime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_RELATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{opts: []string{"rnorelatime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_STRICTATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{opts: []string{"rstrictatime", "rnostrictatime"}, want: MountOptions{RecAttrSet: unix.MOUNT_ATTR_RELATIME, RecAttrClr: unix.MOUNT_ATTR__ATIME}},
		{opts: []string{"tmpcopyup"}, want: MountOptions{Extensions: configs.EXT_COPYUP}},
		{opts: []string{"mode=755", "defaults", "size=64k", "nr_inodes=10"}, want: MountOptions{Data: "mode=755,size=64k,nr_inodes=10"}},
		{opts: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}, want: MountOptions{Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"}},
		{opts: []string{"rbind", "idmap"}, want: MountOptions{Flags: unix.MS_BIND | unix.MS_REC, IDMap: true}},
		{opts: []string{"ridmap"}, want: MountOptions{IDMap: true, IDMapRecursive: true}},
		{opts: []string{"ridmap", "idmap"}, want: MountOptions{IDMap: true, IDMapRecursive: true}},
		{opts: []string{"a\x00b"}, wantErr: `options[0]: must not contain a NUL byte`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.opts, ","), func(t *testing.T) {
			got, err := ParseMountOptions(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestKnownMountOptions(t *testing.T) {
	for _, o := range KnownMountOptions() {
		if o == "defaults" {
			continue
		}
		m, err := ParseMountOptions([]string{o})
		if err != nil || m.Data != "" {
			t.Errorf("known option %q parsed as data %q (err %v)", o, m.Data, err)
		}
	}
}
