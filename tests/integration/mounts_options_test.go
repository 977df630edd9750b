package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMountFlagOptions mounts one tmpfs per option under /o and reads the
// per-mount (ro, nosuid, atime...) and superblock (sync, lazytime...) flags
// back from mountinfo. Later options win over earlier ones ("ro,rw").
func TestMountFlagOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		opts      []string
		want, not []string // per-mount options
		super     []string
	}{
		{"ro", []string{"ro"}, []string{"ro"}, nil, nil},
		{"rw", []string{"ro", "rw"}, []string{"rw"}, []string{"ro"}, nil},
		{"nosuid", []string{"nosuid"}, []string{"nosuid"}, nil, nil},
		{"suid", []string{"nosuid", "suid"}, nil, []string{"nosuid"}, nil},
		{"nodev", []string{"nodev"}, []string{"nodev"}, nil, nil},
		{"dev", []string{"nodev", "dev"}, nil, []string{"nodev"}, nil},
		{"noexec", []string{"noexec"}, []string{"noexec"}, nil, nil},
		{"exec", []string{"noexec", "exec"}, nil, []string{"noexec"}, nil},
		{"sync", []string{"sync"}, nil, nil, []string{"sync"}},
		{"dirsync", []string{"dirsync"}, nil, nil, []string{"dirsync"}},
		{"lazytime", []string{"lazytime"}, nil, nil, []string{"lazytime"}},
		// silent and loud change only what the kernel logs: accepted, invisible.
		{"silent", []string{"silent"}, nil, nil, nil},
		{"loud", []string{"silent", "loud"}, nil, nil, nil},
		{"noatime", []string{"noatime"}, []string{"noatime"}, []string{"relatime"}, nil},
		{"atime", []string{"noatime", "atime"}, nil, []string{"noatime"}, nil},
		{"nodiratime", []string{"nodiratime"}, []string{"nodiratime"}, nil, nil},
		{"diratime", []string{"nodiratime", "diratime"}, nil, []string{"nodiratime"}, nil},
		{"relatime", []string{"relatime"}, []string{"relatime"}, []string{"noatime"}, nil},
		{"strictatime", []string{"strictatime"}, nil, []string{"relatime", "noatime"}, nil},
		{"nosymfollow", []string{"nosymfollow"}, []string{"nosymfollow"}, nil, nil},
		{"defaults", []string{"defaults"}, []string{"rw"}, nil, nil},
	}
	if bundle.IsRunc(t) {
		// runc 1.1.5 passes "defaults" to the filesystem as data, which tmpfs
		// refuses; mount(8) reads it as "no options".
		cases = cases[:len(cases)-1]
	}
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		for _, tc := range cases {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/o/" + tc.name, Type: "tmpfs", Source: "tmpfs", Options: tc.opts})
		}
	}))
	rep := b.Report(t)
	for _, tc := range cases {
		m := mountAt(t, rep, "/o/"+tc.name)
		checkOpts(t, m, tc.want, tc.not)
		checkSuper(t, m, tc.super...)
	}
}

// TestMountMand: the kernel no longer implements mandatory locks; since
// Linux 5.15 it accepts "mand" and ignores it (the superblock still shows
// it), so the mount must succeed there. An older kernel built without
// CONFIG_MANDATORY_FILE_LOCKING refuses it: then the error must name the
// mount and the option.
func TestMountMand(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, withMount(specs.Mount{Destination: "/m", Type: "tmpfs", Source: "tmpfs", Options: []string{"mand"}}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		if kernelAtLeast(t, 5, 15) {
			t.Fatalf("Linux 5.15+ accepts \"mand\", but the run failed: %v", r)
		}
		if bundle.IsOcirun(t) && (!strings.Contains(r.Stderr, "mounts[7]") || !strings.Contains(r.Stderr, `"mand"`)) {
			t.Errorf("refused mand without naming mounts[7] and \"mand\": %v", r)
		}
		b.CheckGone(t)
		return
	}
	rep := bundle.ParseReport(t, r.Stdout)
	checkSuper(t, mountAt(t, rep, "/m"), "mand")
}

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release, err)
	}
	return ma > major || ma == major && mi >= minor
}

// TestMountRemount: a second entry with "remount" changes the mount the first
// one made instead of stacking a new one.
func TestMountRemount(t *testing.T) {
	t.Parallel()
	b := bundle.New(t,
		withMount(specs.Mount{Destination: "/rm", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}),
		withMount(specs.Mount{Destination: "/rm", Type: "tmpfs", Source: "tmpfs", Options: []string{"remount", "ro", "nosuid", "size=2m"}}),
	)
	rep := b.Report(t)
	if n := mountsAt(rep, "/rm"); n != 1 {
		t.Errorf("%d mounts at /rm, want 1 remounted", n)
	}
	m := mountAt(t, rep, "/rm")
	checkOpts(t, m, []string{"ro", "nosuid"}, nil)
	checkSuper(t, m, "size=2048k")
}

// TestMountUnknownOption: an option the runtime does not know is data for
// the filesystem; tmpfs refuses it and the error names it.
func TestMountUnknownOption(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, withMount(specs.Mount{Destination: "/u", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "bogusopt=1"}}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("tmpfs with an unknown option mounted: %v", r)
	}
	assertNoCrash(t, r)
	if !strings.Contains(r.Stderr, "bogusopt") {
		t.Errorf("error does not name the refused option:\n%s", r.Stderr)
	}
}

// peerGroup returns the value of the "shared:N" or "master:N" tag in an
// optional-fields string ("" when absent).
func peerGroup(optional, tag string) string {
	for _, f := range strings.Fields(optional) {
		if v, ok := strings.CutPrefix(f, tag+":"); ok {
			return v
		}
	}
	return ""
}

// TestMountPropagation applies each propagation option to binds of a shared
// tmpfs (with a shared submount) made in the container, and reads the
// optional fields of mountinfo: shared:N joins the source's peer group,
// master:N receives from it, unbindable, or nothing for private. The r*
// forms reach the submount too.
func TestMountPropagation(t *testing.T) {
	t.Parallel()
	b := bundle.New(t)
	src := filepath.Join(b.Rootfs, "ps")
	modes := []string{"shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"}
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/ps", Type: "tmpfs", Source: "tmpfs", Options: []string{"shared"}},
			specs.Mount{Destination: "/ps/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"shared"}},
		)
		for _, mode := range modes {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/p/" + mode, Type: "bind", Source: src, Options: []string{"rbind", mode}})
		}
	})
	rep := b.Report(t)
	top, sub := mountAt(t, rep, "/ps"), mountAt(t, rep, "/ps/sub")
	if top == nil || sub == nil {
		t.FailNow()
	}
	topGroup, subGroup := peerGroup(top.Optional, "shared"), peerGroup(sub.Optional, "shared")
	if topGroup == "" || subGroup == "" {
		t.Fatalf("source mounts not shared: /ps %q, /ps/sub %q", top.Optional, sub.Optional)
	}
	check := func(m *report.Mount, mode, group string, recursive bool) {
		t.Helper()
		if m == nil {
			return
		}
		base := strings.TrimPrefix(mode, "r")
		if !recursive {
			// A non-recursive option leaves the rbind's submount a peer of /ps/sub.
			base = "shared"
		}
		got := m.Optional
		switch base {
		case "shared":
			if peerGroup(got, "shared") != group || peerGroup(got, "master") != "" {
				t.Errorf("%s (%s): optional %q, want shared:%s", m.Mountpoint, mode, got, group)
			}
		case "slave":
			if peerGroup(got, "master") != group || peerGroup(got, "shared") != "" {
				t.Errorf("%s (%s): optional %q, want master:%s", m.Mountpoint, mode, got, group)
			}
		case "private":
			if got != "" {
				t.Errorf("%s (%s): optional %q, want none", m.Mountpoint, mode, got)
			}
		case "unbindable":
			if got != "unbindable" {
				t.Errorf("%s (%s): optional %q, want unbindable", m.Mountpoint, mode, got)
			}
		}
	}
	for _, mode := range modes {
		recursive := strings.HasPrefix(mode, "r")
		check(mountAt(t, rep, "/p/"+mode), "r"+strings.TrimPrefix(mode, "r"), topGroup, true)
		check(mountAt(t, rep, "/p/"+mode+"/sub"), mode, subGroup, recursive)
	}
}

// TestMountRecursiveAttrs: the r* options set their flag on every mount of
// an rbind, which is built in the container (tmpfs /rs with a submount), while
// the plain forms change the top mount only.
func TestMountRecursiveAttrs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		opt       string
		src       string // rs: plain submount; rs2: ro,noatime,nodiratime,nosymfollow submount
		want, not []string
	}{
		{"rro", "rs", []string{"ro"}, nil},
		{"rrw", "rs2", []string{"rw"}, []string{"ro"}},
		{"rnosuid", "rs", []string{"nosuid"}, nil},
		{"rnodev", "rs", []string{"nodev"}, nil},
		{"rnoexec", "rs", []string{"noexec"}, nil},
		{"rnoatime", "rs", []string{"noatime"}, []string{"relatime"}},
		{"rstrictatime", "rs", nil, []string{"relatime", "noatime"}},
		{"rrelatime", "rs2", []string{"relatime"}, []string{"noatime"}},
		{"ratime", "rs2", nil, []string{"noatime"}},
		{"rnodiratime", "rs", []string{"nodiratime"}, nil},
		{"rdiratime", "rs2", nil, []string{"nodiratime"}},
		{"rnosymfollow", "rs", []string{"nosymfollow"}, nil},
		{"rsymfollow", "rs2", nil, []string{"nosymfollow"}},
	}
	if bundle.IsRunc(t) {
		// runc 1.1.5 sends "ratime" as attr_clr=NOATIME alone, which
		// mount_setattr(2) refuses (EINVAL): an atime mode is replaced whole.
		keep := cases[:0]
		for _, tc := range cases {
			if tc.opt != "ratime" {
				keep = append(keep, tc)
			}
		}
		cases = keep
	}
	b := bundle.New(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/rs", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/rs/sub", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/rs2", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/rs2/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "noatime", "nodiratime", "nosymfollow"}},
			specs.Mount{Destination: "/r/top-ro", Type: "bind", Source: filepath.Join(b.Rootfs, "rs"), Options: []string{"rbind", "ro"}},
		)
		for _, tc := range cases {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/r/" + tc.opt, Type: "bind",
				Source: filepath.Join(b.Rootfs, tc.src), Options: []string{"rbind", tc.opt}})
		}
	})
	rep := b.Report(t)
	for _, tc := range cases {
		checkOpts(t, mountAt(t, rep, "/r/"+tc.opt), tc.want, tc.not)
		checkOpts(t, mountAt(t, rep, "/r/"+tc.opt+"/sub"), tc.want, tc.not)
	}
	checkOpts(t, mountAt(t, rep, "/r/top-ro"), []string{"ro"}, nil)
	// mount(2)'s and runc's meaning of "rbind,ro": the top only (Kubernetes'
	// non-recursive read-only volumes count on it). Only sysfs and procfs
	// trees are made read-only all the way down
	// (TestSecurityRootlessSysBindCgroupMkdir).
	checkOpts(t, mountAt(t, rep, "/r/top-ro/sub"), []string{"rw"}, nil)
}
