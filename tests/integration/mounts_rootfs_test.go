package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hostPropagation maps each host mount id to its optional fields.
func hostPropagation(t *testing.T) map[int]string {
	t.Helper()
	out := map[int]string{}
	for _, m := range hostMounts(t) {
		out[m.id] = m.optional
	}
	return out
}

// TestRootfsPropagation sets each linux.rootfsPropagation value and reads the
// optional fields of "/" inside; the host's mounts keep their propagation.
func TestRootfsPropagation(t *testing.T) {
	t.Parallel()
	hostRoot := hostMountAt(t, "/")
	if hostRoot == nil {
		t.Fatal("no / in the host's mountinfo")
	}
	hostShared := peerGroup(hostRoot.optional, "shared") != ""
	for _, mode := range []string{"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"} {
		t.Run("mode="+mode, func(t *testing.T) {
			t.Parallel()
			if bundle.IsRunc(t) && (strings.HasSuffix(mode, "unbindable") || strings.HasSuffix(mode, "shared")) {
				// runc 1.1.5 sets the mode on / before binding the rootfs onto
				// itself: unbindable makes that bind fail (EINVAL), and shared is
				// lost when it makes the rootfs's parent mount private.
				t.Skipf("runc 1.1.5 does not apply rootfsPropagation %q to a rootfs that is not a mount point", mode)
			}
			before := hostPropagation(t)
			b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) { s.Linux.RootfsPropagation = mode }))
			rep := b.Report(t)
			root := mountAt(t, rep, "/")
			if root == nil {
				return
			}
			got := root.Optional
			switch strings.TrimPrefix(mode, "r") {
			case "shared":
				if peerGroup(got, "shared") == "" {
					t.Errorf("/ optional %q, want shared:N", got)
				}
			case "unbindable":
				if got != "unbindable" {
					t.Errorf("/ optional %q, want unbindable", got)
				}
			case "private":
				if got != "" {
					t.Errorf("/ optional %q, want none", got)
				}
			default: // slave (runc's default too): receives from the host's peer group, if any.
				if peerGroup(got, "shared") != "" || strings.Contains(got, "unbindable") {
					t.Errorf("/ optional %q, want a slave", got)
				}
				if hostShared && peerGroup(got, "master") == "" {
					t.Errorf("/ optional %q, want master:N of the host's shared /", got)
				}
			}
			after := hostPropagation(t)
			for id, opt := range before {
				if a, ok := after[id]; ok && a != opt {
					t.Errorf("host mount %d changed propagation: %q -> %q", id, opt, a)
				}
			}
		})
	}
}

// TestRootfsSelfBindAndReadonly: a rootfs directory that is not a mount point
// is bind-mounted onto itself (mountinfo's root of "/" is the rootfs path);
// root.readonly makes that mount read-only, not the mounts on it.
func TestRootfsSelfBindAndReadonly(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) { s.Root.Readonly = true }))
	rep := b.Report(t)
	want, err := filepath.EvalSymlinks(b.Rootfs)
	if err != nil {
		t.Fatal(err)
	}
	if host := hostMountAt(t, "/"); host != nil && host.root != "/" {
		t.Skipf("the host's / is itself a bind (root %q): the rootfs path inside it is not predictable", host.root)
	}
	root := mountAt(t, rep, "/")
	if root != nil && root.Root != want {
		t.Errorf("/ has mount root %q, want the rootfs %q bound onto itself", root.Root, want)
	}
	checkOpts(t, root, []string{"ro"}, nil)
	checkOpts(t, mountAt(t, rep, "/dev"), []string{"rw"}, nil)
	checkOpts(t, mountAt(t, rep, "/dev/shm"), []string{"rw"}, nil)
}

// TestMaskedAndReadonlyPaths: a masked file is the /dev/null device bound on
// it, a masked directory an empty read-only tmpfs, a missing path is skipped;
// a read-only path is read-only down to its submounts.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	t.Parallel()
	b := bundle.New(t,
		probeArgs([]string{"/secret/file", "/secret/dir/inner"}, []string{"/secret/file"}),
		withMount(specs.Mount{Destination: "/rodir/sub", Type: "tmpfs", Source: "tmpfs"}),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/secret/file", "/secret/dir", "/nonexistent/masked")
			s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/rodir", "/nonexistent/ro")
		}))
	writeHostFile(t, filepath.Join(b.Rootfs, "secret/file"), "secret\n", 0o644)
	writeHostFile(t, filepath.Join(b.Rootfs, "secret/dir/inner"), "secret\n", 0o644)
	if err := os.MkdirAll(filepath.Join(b.Rootfs, "rodir"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep := b.Report(t)
	if st := rep.Stat["/secret/file"]; st.Type != "char" || st.Major != 1 || st.Minor != 3 {
		t.Errorf("masked file: %+v, want the char device 1:3", st)
	}
	if got, ok := rep.Cat["/secret/file"]; !ok || got != "" {
		t.Errorf("masked file reads %q (present %v), want empty", got, ok)
	}
	mountAt(t, rep, "/secret/file")
	if m := mountAt(t, rep, "/secret/dir"); m != nil {
		if m.FSType != "tmpfs" {
			t.Errorf("masked dir: fstype %s, want tmpfs", m.FSType)
		}
		checkOpts(t, m, []string{"ro"}, nil)
	}
	if st := rep.Stat["/secret/dir/inner"]; st.Exists {
		t.Errorf("masked dir still shows its content: %+v", st)
	}
	checkOpts(t, mountAt(t, rep, "/rodir"), []string{"ro"}, nil)
	if bundle.IsRunc(t) {
		// runc 1.1.5 remounts with MS_REC|MS_REMOUNT|MS_BIND|MS_RDONLY, and
		// the kernel ignores MS_REC on a remount: only the top is read-only.
		return
	}
	checkOpts(t, mountAt(t, rep, "/rodir/sub"), []string{"ro"}, nil)
}

// TestLinuxDevices creates block, char and fifo nodes (one below a directory
// that does not exist) with their mode and owner; /dev/core exists exactly
// when the host has /proc/kcore.
func TestLinuxDevices(t *testing.T) {
	t.Parallel()
	mode := func(m os.FileMode) *os.FileMode { return &m }
	id := func(v uint32) *uint32 { return &v }
	devs := []specs.LinuxDevice{
		{Path: "/dev/blk", Type: "b", Major: 7, Minor: 200, FileMode: mode(0o660), UID: id(0), GID: id(6)},
		{Path: "/dev/sub/dir/chr", Type: "c", Major: 1, Minor: 5, FileMode: mode(0o604), UID: id(1000), GID: id(100)},
		{Path: "/dev/fifo", Type: "p", FileMode: mode(0o620), UID: id(1000), GID: id(1000)},
		{Path: "/dev/unowned", Type: "c", Major: 1, Minor: 7},
		// A fifo's numbers mean nothing to mknod; runtime-tools gives one anyway.
		{Path: "/dev/numbered-fifo", Type: "p", Major: 8, Minor: 666, FileMode: mode(0o640)},
	}
	stats := []string{"/dev/core", "/dev/sub", "/dev/sub/dir"}
	for _, d := range devs {
		stats = append(stats, d.Path)
	}
	b := bundle.New(t, probeArgs(stats, nil), bundle.WithSpec(func(s *specs.Spec) { s.Linux.Devices = devs }))
	rep := b.Report(t)
	want := []struct {
		path         string
		typ          string
		major, minor uint32
		mode         uint32
		uid, gid     uint32
	}{
		{"/dev/blk", "block", 7, 200, 0o660, 0, 6},
		{"/dev/sub/dir/chr", "char", 1, 5, 0o604, 1000, 100},
		{"/dev/fifo", "fifo", 0, 0, 0o620, 1000, 1000},
		{"/dev/unowned", "char", 1, 7, 0o000, 0, 0},
		{"/dev/numbered-fifo", "fifo", 0, 0, 0o640, 0, 0},
	}
	for _, w := range want {
		st := rep.Stat[w.path]
		if st.Type != w.typ || st.Major != w.major || st.Minor != w.minor || st.UID != w.uid || st.GID != w.gid {
			t.Errorf("%s: %+v, want %s %d:%d owned %d:%d", w.path, st, w.typ, w.major, w.minor, w.uid, w.gid)
		}
		if w.path != "/dev/unowned" && st.Mode != w.mode {
			t.Errorf("%s: mode %o, want %o", w.path, st.Mode, w.mode)
		}
	}
	for _, d := range []string{"/dev/sub", "/dev/sub/dir"} {
		if st := rep.Stat[d]; st.Type != "dir" || st.UID != 0 {
			t.Errorf("%s: %+v, want a created root-owned directory", d, st)
		}
	}
	_, kcoreErr := os.Stat("/proc/kcore")
	core := rep.Stat["/dev/core"]
	switch {
	case kcoreErr == nil && (core.Type != "symlink" || core.Link != "/proc/kcore"):
		t.Errorf("/dev/core: %+v, want a symlink to /proc/kcore (the host has it)", core)
	case kcoreErr != nil && core.Exists:
		t.Errorf("/dev/core: %+v, want none (the host has no /proc/kcore)", core)
	}
}

// TestSysctl writes sysctls of the namespaces the container owns and refuses
// those it does not own, naming the key.
func TestSysctl(t *testing.T) {
	t.Parallel()
	t.Run("written", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t,
			probeArgs(nil, []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax", "/proc/sys/kernel/domainname", "/proc/sys/fs/mqueue/queues_max"}),
			bundle.WithSpec(func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{
					"net.ipv4.ip_forward":          "1",
					"kernel.shmmax":                "98765432",
					"kernel.domainname":            "mounts.example",
					"fs/mqueue/queues_max":         "77",
					"net.ipv4.ip_local_port_range": "20000 30000",
				}
			}))
		rep := b.Report(t)
		for path, want := range map[string]string{
			"/proc/sys/net/ipv4/ip_forward":  "1",
			"/proc/sys/kernel/shmmax":        "98765432",
			"/proc/sys/kernel/domainname":    "mounts.example",
			"/proc/sys/fs/mqueue/queues_max": "77",
		} {
			if got := strings.TrimSpace(rep.Cat[path]); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
		if rep.Domainname != "mounts.example" {
			t.Errorf("uname domainname %q, want the sysctl's", rep.Domainname)
		}
	})
	refused := []struct {
		name, key, value string
		drop             specs.LinuxNamespaceType
		want             string
	}{
		{"net without netns", "net.ipv4.ip_forward", "1", specs.NetworkNamespace, "network namespace"},
		{"hostname without uts", "kernel.hostname", "x", specs.UTSNamespace, "uts namespace"},
		{"shm without ipc", "kernel.shmmax", "1", specs.IPCNamespace, "ipc namespace"},
		{"vm never", "vm.swappiness", "10", "", "not in a separate kernel namespace"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{tc.key: tc.value}
				if tc.drop != "" {
					s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, tc.drop)
				}
				if tc.drop == specs.UTSNamespace {
					s.Hostname = ""
				}
			}))
			mustFailCreate(t, b, tc.key, tc.want)
		})
	}
}

// TestRootfsSharedMountPoint: containerd's CRI mounts each container's
// overlay rootfs and asks for rootfsPropagation "rshared" when a volume is
// bidirectional. Making "/" rshared makes that rootfs mount shared too, and
// pivot_root(".", ".") refuses a shared new root (EINVAL): the runtime must
// make it private first, as runc does, and "/" ends up shared inside.
func TestRootfsSharedMountPoint(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" }))
	if err := unix.Mount(b.Rootfs, b.Rootfs, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(b.Rootfs, unix.MNT_DETACH) })
	if err := unix.Mount("", b.Rootfs, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	rep := b.Report(t)
	root := mountAt(t, rep, "/")
	if root == nil {
		t.Fatal("no / in the container's mountinfo")
	}
	// runc 1.1.5 starts it but loses "shared" (see TestRootfsPropagation).
	if peerGroup(root.Optional, "shared") == "" && !bundle.IsRunc(t) {
		t.Errorf("/ optional %q, want shared:N", root.Optional)
	}
}
