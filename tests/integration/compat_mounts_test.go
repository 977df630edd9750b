package integration

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mount behaviours of issue 15 (compatibility with runc 1.4).

// TestMountTmpfsModeFromDir: a tmpfs without mode= takes the mode of the
// directory it covers (runc 1.4), a mode= of its own still wins, and one on
// a new directory keeps tmpfs's 1777.
func TestMountTmpfsModeFromDir(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, probeArgs([]string{"/covered", "/own", "/fresh"}, nil),
		withMount(specs.Mount{Destination: "/covered", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}),
		withMount(specs.Mount{Destination: "/own", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0711"}}),
		withMount(specs.Mount{Destination: "/fresh", Type: "tmpfs", Source: "tmpfs"}))
	for _, d := range []string{"covered", "own"} {
		dir := filepath.Join(b.Rootfs, d)
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o750); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	rep := b.Report(t)
	for path, want := range map[string]uint32{"/covered": 0o750, "/own": 0o711, "/fresh": 0o1777} {
		if st := rep.Stat[path]; !st.Exists || st.Mode != want {
			t.Errorf("%s: mode %04o (%+v), want %04o", path, st.Mode, st, want)
		}
		mountAt(t, rep, path)
	}
}

// TestMountBindSourceInEarlierMount: mounts are made in order inside the
// container's mount namespace (runc 1.4), so a bind source under the rootfs
// is looked up through the container's earlier mounts, not the bare rootfs.
func TestMountBindSourceInEarlierMount(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "sub", "file"), []byte("through the earlier mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bundle.New(t)
	b.Edit(t, func(s *specs.Spec) {
		s.Process.Args = []string{bundle.ProbePath, "report", "--cat", "/later/file"}
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: host, Options: []string{"rbind"}},
			// Only the mount of /data makes this path exist.
			specs.Mount{Destination: "/later", Type: "bind", Source: filepath.Join(b.Rootfs, "data", "sub"), Options: []string{"rbind"}})
	})
	rep := b.Report(t)
	if got := rep.Cat["/later/file"]; got != "through the earlier mount\n" {
		t.Errorf("/later/file = %q (errors %v), want the file under the earlier mount", got, rep.Errors)
	}
}

// hostTmpfs mounts a small tmpfs with opts on a new directory of the host
// and unmounts it at the end of the test.
func hostTmpfs(t *testing.T, flags uintptr) string {
	t.Helper()
	dir := t.TempDir()
	// A user namespace's root is "other" to it and to t.TempDir()'s 0700 parent.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, "size=1m,mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestMountBindFlagsLocked: a bind mount's remount sets exactly the flags of
// its options, clearing the source's nosuid/nodev/noexec and keeping its
// atime mode (runc 1.4, and the kernel's rule for a remount); a bind without
// such options keeps the source's; and in a user namespace, where the kernel
// locks the source's flags, they are kept instead of failing with EPERM, as
// runc 1.4 retries.
func TestMountBindFlagsLocked(t *testing.T) {
	t.Parallel()
	src := hostTmpfs(t, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_NOATIME)
	locked := []string{"nosuid", "nodev", "noexec"}
	for _, tc := range []struct {
		name      string
		userns    bool
		opts      []string
		want, not []string
	}{
		{"plain", false, []string{"bind"}, append([]string{"rw", "noatime"}, locked...), nil},
		{"cleared", false, []string{"bind", "ro"}, []string{"ro", "noatime"}, locked},
		{"userns-kept", true, []string{"bind", "ro"}, append([]string{"ro", "noatime"}, locked...), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.userns && bundle.IsRunc(t) {
				t.Skip("runc 1.1.5 fails the remount of locked flags with EPERM")
			}
			b := bundle.New(t, withMount(specs.Mount{Destination: "/src", Type: "bind", Source: src, Options: tc.opts}))
			if tc.userns {
				withUserNS(t, b)
			}
			rep := b.Report(t)
			checkOpts(t, mountAt(t, rep, "/src"), tc.want, tc.not)
		})
	}
}

// TestMountDevReadonly: a read-only /dev works (runc 1.4): the devices and
// symlinks are made while it is writable, then it is remounted read-only.
func TestMountDevReadonly(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, probeArgs([]string{"/dev/null", "/dev/ptmx", "/dev/fd"}, nil), bundle.WithSpec(func(s *specs.Spec) {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "ro")
			}
		}
	}))
	rep := b.Report(t)
	checkOpts(t, mountAt(t, rep, "/dev"), []string{"ro"}, nil)
	if st := rep.Stat["/dev/null"]; st.Type != "char" || st.Major != 1 || st.Minor != 3 {
		t.Errorf("/dev/null: %+v, want char 1:3", st)
	}
	for _, l := range []string{"/dev/ptmx", "/dev/fd"} {
		if st := rep.Stat[l]; st.Type != "symlink" {
			t.Errorf("%s: %+v, want a symlink", l, st)
		}
	}
	checkOpts(t, mountAt(t, rep, "/dev/pts"), []string{"rw"}, nil)
}

// TestMaskedPathsDuplicatesShared: a masked path listed twice is masked
// once without error, and the masked directories share one read-only tmpfs
// (runc 1.4), rather than one tmpfs each.
func TestMaskedPathsDuplicatesShared(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.MaskedPaths = []string{"/proc/acpi", "/proc/kcore", "/proc/acpi", "/sys/firmware", "/proc/scsi", "/proc/kcore"}
	}))
	for _, d := range []string{"proc/acpi", "proc/scsi", "sys/firmware"} {
		_ = os.MkdirAll(filepath.Join(b.Rootfs, d), 0o755) // harmless: /proc and /sys cover them
	}
	rep := b.Report(t)
	var devs []string
	counts := map[string]int{}
	for _, m := range rep.Mounts {
		counts[m.Mountpoint]++
		switch m.Mountpoint {
		case "/proc/acpi", "/sys/firmware", "/proc/scsi":
			if m.FSType != "tmpfs" {
				continue // the kernel may lack the directory
			}
			checkOpts(t, &m, []string{"ro"}, nil)
			devs = append(devs, strconv.Itoa(m.Major)+":"+strconv.Itoa(m.Minor))
		}
	}
	for _, p := range []string{"/proc/acpi", "/proc/kcore"} {
		if counts[p] > 1 {
			t.Errorf("%s masked %d times, want once", p, counts[p])
		}
	}
	if len(devs) < 2 {
		t.Skipf("fewer than two masked directories exist on this kernel: %v", devs)
	}
	for _, d := range devs[1:] {
		if d != devs[0] {
			t.Errorf("masked directories on tmpfs devices %v, want one shared tmpfs", devs)
			break
		}
	}
}

// TestNoPivotHidesHostProc: with --no-pivot the host's procfs and sysfs
// would stay in the container's mount namespace, unreachable by path but
// still counted by the kernel when it decides whether a user namespace may
// mount a new procfs or sysfs (a fully visible one must exist). runc 1.4
// removes them before its chroot. Unreachable, they are also out of
// mountinfo: listmount(2) and statmount(2) (Linux 6.11) walk the namespace's
// old root, the parent of the container's "/".
func TestNoPivotHidesHostProc(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 leaves the host's procfs in a --no-pivot container's mount namespace")
	}
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.MustRun(t, "run", "-d", "--no-pivot", "--bundle", b.Dir, b.ID)
	pid := strconv.Itoa(b.MustState(t).Pid)
	nsfd, err := unix.Open("/proc/"+pid+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nsfd)
	var nsID uint64
	const nsGetMntnsID = 0x8008b705 // _IOR(0xb7, 0x5, __u64)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(nsfd), nsGetMntnsID, uintptr(unsafe.Pointer(&nsID))); errno != 0 {
		t.Skipf("no listmount of another mount namespace here (NS_GET_MNTNS_ID: %v, Linux 6.11)", errno)
	}
	var stx unix.Statx_t
	const statxMntIDUnique = 0x4000
	if err := unix.Statx(unix.AT_FDCWD, "/proc/"+pid+"/root", 0, statxMntIDUnique, &stx); err != nil {
		t.Fatal(err)
	}
	root, err := statmountBasic(nsID, stx.Mnt_id)
	if err != nil {
		t.Fatalf("statmount of the container's root: %v", err)
	}
	ids := make([]uint64, 512)
	req := mntIDReq{Size: 32, MntID: root.parent, MntNsID: nsID}
	n, _, errno := unix.Syscall6(unix.SYS_LISTMOUNT, uintptr(unsafe.Pointer(&req)), uintptr(unsafe.Pointer(&ids[0])), uintptr(len(ids)), 0, 0, 0)
	if errno != 0 {
		t.Fatalf("listmount under the old root: %v", errno)
	}
	// listmount may list the whole tree below the old root: the container's
	// own mounts (its /proc, its /sys) are those below its root.
	mounts := map[uint64]mountBasic{}
	for _, id := range ids[:n] {
		m, err := statmountBasic(nsID, id)
		if err != nil {
			t.Fatalf("statmount %d: %v", id, err)
		}
		mounts[id] = m
	}
	for id, m := range mounts {
		if m.magic != unix.PROC_SUPER_MAGIC && m.magic != unix.SYSFS_MAGIC {
			continue
		}
		up := id
		for up != stx.Mnt_id && up != root.parent {
			p, ok := mounts[up]
			if !ok {
				break
			}
			up = p.parent
		}
		if up != stx.Mnt_id {
			t.Errorf("mount %d (magic %#x, a host procfs or sysfs) left in the --no-pivot container's mount namespace", id, m.magic)
		}
	}
}

// mntIDReq is struct mnt_id_req (version 1) of listmount(2) and statmount(2).
type mntIDReq struct {
	Size    uint32
	Spare   uint32
	MntID   uint64
	Param   uint64
	MntNsID uint64
}

type mountBasic struct {
	magic, parent uint64
}

// statmountBasic reads a mount's superblock magic and parent mount id.
func statmountBasic(nsID, id uint64) (mountBasic, error) {
	const sbBasic, mntBasic = 0x1, 0x2
	var buf [1024]byte
	req := mntIDReq{Size: 32, MntID: id, Param: sbBasic | mntBasic, MntNsID: nsID}
	_, _, errno := unix.Syscall6(unix.SYS_STATMOUNT, uintptr(unsafe.Pointer(&req)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	if errno != 0 {
		return mountBasic{}, errno
	}
	// struct statmount: sb_magic at 24, mnt_parent_id at 48.
	return mountBasic{
		magic:  binary.NativeEndian.Uint64(buf[24:]),
		parent: binary.NativeEndian.Uint64(buf[48:]),
	}, nil
}
