package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// TestDestinationResolvingToRootRefused: a mount destination that resolves to
// the rootfs itself (`data -> /` in the image) would be stacked over the root:
// pivot_root would enter the volume and leave /proc, /sys, /dev and the masks
// behind. Prepare refuses it, with runc's wording and the JSON path of the
// destination.
func TestDestinationResolvingToRootRefused(t *testing.T) {
	vol := t.TempDir()
	cases := []struct {
		name, link, target string
		mount              configs.Mount
	}{
		{"bind at data -> /", "data", "/", specMount("bind", vol, "/data", "rbind")},
		{"bind at data -> ../../..", "data", "../../..", specMount("bind", vol, "/data", "rbind")},
		{"tmpfs at a/b -> ..", "a/b", "..", specMount("tmpfs", "tmpfs", "/a/b")},
		{"remount at data -> /", "data", "/", specMount("tmpfs", "tmpfs", "/data", "remount", "ro")},
		{"cgroup at data -> .", "data", ".", specMount("cgroup", "cgroup", "/data", "ro")},
		{"literal /", "", "", specMount("bind", vol, "/", "rbind")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := minimalConfig(t, tc.mount)
			if tc.link != "" {
				p := filepath.Join(cfg.Rootfs, tc.link)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.target, p); err != nil {
					t.Fatal(err)
				}
			}
			rep := run(t, scenario{Config: cfg, Cgroup: &CgroupMount{V2: true}, PrePivot: true}, 0)
			want := []string{"is on the top of rootfs", fmt.Sprintf("mounts[2].destination %q", tc.mount.Destination)}
			for _, w := range want {
				if rep.Stage != "prepare" || !strings.Contains(rep.Error, w) {
					t.Errorf("stage %q error %q, want prepare to fail with %q", rep.Stage, rep.Error, w)
				}
			}
			root, err := filepath.EvalSymlinks(cfg.Rootfs)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range rep.PrePivotMounts {
				if m.Mountpoint == root {
					n++
				}
			}
			if n > 1 {
				t.Errorf("%d mounts at the rootfs %s: one was stacked over it", n, root)
			}
		})
	}
}

// TestProcSysExactDestinationRace: proc and sysfs must land exactly on their
// configured path. A racer exchanges /proc (or /sys) with a symlink to another
// in-root directory while Prepare runs, so that the symlink check and the mkdir
// may see different things; procfs and sysfs must never be mounted anywhere
// else.
func TestProcSysExactDestinationRace(t *testing.T) {
	if testing.Short() {
		t.Skip("race test is slow")
	}
	for _, tc := range []struct{ dir, fstype string }{{"proc", "proc"}, {"sys", "sysfs"}} {
		t.Run(tc.dir, func(t *testing.T) {
			cfg := minimalConfig(t)
			if tc.fstype == "sysfs" {
				cfg.Mounts = append(cfg.Mounts, specMount("sysfs", "sysfs", "/sys", "ro"))
			}
			root, err := filepath.EvalSymlinks(cfg.Rootfs)
			if err != nil {
				t.Fatal(err)
			}
			wrong := filepath.Join(root, "x")
			if err := os.Mkdir(wrong, 0o755); err != nil {
				t.Fatal(err)
			}
			real, link := filepath.Join(root, tc.dir), filepath.Join(root, "l")
			if err := os.Symlink("/x", link); err != nil {
				t.Fatal(err)
			}
			stop, done := make(chan struct{}), make(chan struct{})
			swaps := 0
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
						if unix.Renameat2(unix.AT_FDCWD, real, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE) == nil {
							swaps++
						}
					}
				}
			}()
			ok, refused := 0, 0
			for range 60 {
				rep := run(t, scenario{Config: cfg, PrePivot: true}, 0)
				if rep.Stage == "prepare" {
					refused++
				} else {
					ok++
				}
				// The directory first named /proc may be renamed to "l" with
				// the mount on it: only x, the symlink's target, is wrong.
				for _, m := range rep.PrePivotMounts {
					if m.FSType == tc.fstype && m.Mountpoint == wrong {
						t.Errorf("%s mounted at %s, where /%s -> /x led", tc.fstype, m.Mountpoint, tc.dir)
					}
				}
			}
			close(stop)
			<-done
			t.Logf("%d runs mounted, %d refused, %d exchanges", ok, refused, swaps)
		})
	}
}

// TestReadonlyRbindTopOnly: "rbind,ro" of an ordinary tree keeps mount(2)'s
// and runc's meaning: the top is read-only, its submounts keep their flags
// (Kubernetes' non-recursive read-only volumes count on it); "rro" makes the
// whole tree read-only. Only sysfs and procfs trees are read-only all the way
// down with "ro" (kernelTree; TestSecurityRootlessSysBindCgroupMkdir binds
// the host's /sys).
func TestReadonlyRbindTopOnly(t *testing.T) {
	rro := specMount("bind", "", "/rro", "rbind")
	rro.RecAttrSet = unix.MOUNT_ATTR_RDONLY
	cfg := minimalConfig(t,
		specMount("tmpfs", "tmpfs", "/src"),
		specMount("tmpfs", "tmpfs", "/src/sub"),
		specMount("tmpfs", "tmpfs", "/src/sub/a"),
	)
	root, err := filepath.EvalSymlinks(cfg.Rootfs)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "src")
	rro.Source = src
	cfg.Mounts = append(cfg.Mounts,
		specMount("bind", src, "/ro", "rbind", "ro"),
		specMount("bind", src, "/top", "bind", "ro"),
		rro,
	)
	rep := run(t, scenario{Config: cfg, Write: []string{"/ro/f", "/ro/sub/f", "/ro/sub/a/f", "/rro/sub/a/f"}}, 0)
	mustSucceed(t, rep)
	for _, p := range []string{"/ro/f", "/rro/sub/a/f"} {
		if !strings.Contains(rep.Writes[p], "read-only file system") {
			t.Errorf("write %s: %q, want EROFS", p, rep.Writes[p])
		}
	}
	for _, p := range []string{"/ro/sub/f", "/ro/sub/a/f"} {
		if rep.Writes[p] != "" {
			t.Errorf("write %s below the top of an rbind,ro: %q, want it writable", p, rep.Writes[p])
		}
	}
	if m, ok := findMount(rep, "/top"); !ok || !hasOpt(m.Options, "ro") {
		t.Errorf("/top: %+v (found %v), want ro", m, ok)
	}
}
