package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDefaultMounts checks the mount table the default config produces.
func TestDefaultMounts(t *testing.T) {
	t.Parallel()
	b := bundle.New(t)
	rep := b.Report(t)
	cases := []struct {
		mountpoint string
		fstype     string
		opts       []string
	}{
		{"/proc", "proc", nil},
		{"/dev", "tmpfs", []string{"nosuid"}},
		{"/dev/pts", "devpts", []string{"nosuid", "noexec"}},
		{"/dev/shm", "tmpfs", []string{"nosuid", "noexec", "nodev"}},
		{"/dev/mqueue", "mqueue", []string{"nosuid", "noexec", "nodev"}},
		{"/sys", "sysfs", []string{"ro", "nosuid", "noexec", "nodev"}},
	}
	for _, tc := range cases {
		m := rep.Mount(tc.mountpoint)
		if m == nil {
			t.Errorf("no mount at %s", tc.mountpoint)
			continue
		}
		if m.FSType != tc.fstype {
			t.Errorf("%s: fstype %s, want %s", tc.mountpoint, m.FSType, tc.fstype)
		}
		for _, o := range tc.opts {
			if !m.HasOption(o) {
				t.Errorf("%s: options %s / %s lack %s", tc.mountpoint, m.Options, m.SuperOpts, o)
			}
		}
	}
	// cgroup v1 gets a tmpfs with one mount per hierarchy, v2 one cgroup2 mount:
	// either way some cgroup filesystem lies at or under /sys/fs/cgroup, read-only.
	var cg []report.Mount
	for _, m := range rep.Mounts {
		if (m.FSType == "cgroup" || m.FSType == "cgroup2") && strings.HasPrefix(m.Mountpoint, "/sys/fs/cgroup") {
			cg = append(cg, m)
		}
	}
	if len(cg) == 0 {
		t.Errorf("no cgroup filesystem under /sys/fs/cgroup")
	}
	for _, m := range cg {
		if !strings.Contains(","+m.Options+",", ",ro,") {
			t.Errorf("%s: cgroup mount options %s, want ro", m.Mountpoint, m.Options)
		}
	}
	// maskedPaths and readonlyPaths.
	if m := rep.Mount("/proc/keys"); m == nil {
		t.Errorf("/proc/keys is not masked")
	}
	if m := rep.Mount("/proc/sys"); m == nil || !strings.Contains(","+m.Options+",", ",ro,") {
		t.Errorf("/proc/sys is not a read-only mount: %+v", m)
	}
}

// TestDevices checks the default devices, /dev symlinks and a linux.devices entry.
func TestDevices(t *testing.T) {
	t.Parallel()
	mode := os.FileMode(0o640)
	uid, gid := uint32(0), uint32(100) // readable by root without CAP_DAC_OVERRIDE
	paths := []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
		"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/ptmx", "/dev/mynull"}
	args := []string{bundle.ProbePath, "report", "--cat", "/dev/mynull"}
	for _, p := range paths {
		args = append(args, "--stat", p)
	}
	b := bundle.New(t, bundle.WithArgs(args...), bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid}}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: "c", Major: ptr(int64(1)), Minor: ptr(int64(3)), Access: "rwm",
		})
	}))
	rep := b.Report(t)
	devs := []struct {
		path         string
		major, minor uint32
		mode         uint32
	}{
		{"/dev/null", 1, 3, 0o666},
		{"/dev/zero", 1, 5, 0o666},
		{"/dev/full", 1, 7, 0o666},
		{"/dev/random", 1, 8, 0o666},
		{"/dev/urandom", 1, 9, 0o666},
		{"/dev/tty", 5, 0, 0o666},
		{"/dev/mynull", 1, 3, 0o640},
	}
	for _, d := range devs {
		st := rep.Stat[d.path]
		if st.Type != "char" || st.Major != d.major || st.Minor != d.minor {
			t.Errorf("%s: %+v, want char %d:%d", d.path, st, d.major, d.minor)
		}
		if st.Mode != d.mode {
			t.Errorf("%s: mode %o, want %o", d.path, st.Mode, d.mode)
		}
	}
	if st := rep.Stat["/dev/mynull"]; st.UID != uid || st.GID != gid {
		t.Errorf("/dev/mynull owner %d:%d, want %d:%d", st.UID, st.GID, uid, gid)
	}
	if _, failed := rep.Errors["/dev/mynull"]; failed {
		t.Errorf("reading /dev/mynull: %s", rep.Errors["/dev/mynull"])
	}
	links := map[string]string{
		"/dev/fd":     "/proc/self/fd",
		"/dev/stdin":  "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1",
		"/dev/stderr": "/proc/self/fd/2",
	}
	for p, want := range links {
		if st := rep.Stat[p]; st.Type != "symlink" || st.Link != want {
			t.Errorf("%s: %+v, want a symlink to %s", p, st, want)
		}
	}
	// /dev/ptmx must reach the container's own devpts instance: a symlink to
	// pts/ptmx (runc) or a bind mount of it.
	if st := rep.Stat["/dev/ptmx"]; !(st.Type == "symlink" && st.Link == "pts/ptmx") && st.Type != "char" {
		t.Errorf("/dev/ptmx: %+v, want a symlink to pts/ptmx", st)
	}
}

func ptr[T any](v T) *T { return &v }

// TestReadonlyRoot checks root.readonly: writes fail with EROFS.
func TestReadonlyRoot(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("write", "/tmp/x", "data"), bundle.WithSpec(func(s *specs.Spec) {
		s.Root.Readonly = true
	}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 1 || strings.TrimSpace(r.Stdout) != "EROFS" {
		t.Errorf("write on a read-only root: want exit 1 and EROFS\n%v", r)
	}
	if _, err := os.Stat(filepath.Join(b.Rootfs, "tmp", "x")); err == nil {
		t.Errorf("the write reached the host rootfs")
	}
}

// TestNoPivot checks that --no-pivot still jails the process in its rootfs.
func TestNoPivot(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs(bundle.ProbePath, "report", "--stat", "/bin/probe", "--stat", "/work"))
	r := b.Run(t, "run", "--no-pivot", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	rep := bundle.ParseReport(t, r.Stdout)
	if rep.Pid != 1 || rep.Hostname != "ocirun-test" {
		t.Errorf("pid %d hostname %q, want 1 and ocirun-test", rep.Pid, rep.Hostname)
	}
	if !rep.Stat["/bin/probe"].Exists {
		t.Errorf("/bin/probe not visible: %+v", rep.Stat["/bin/probe"])
	}
	if rep.Stat["/work"].Exists {
		t.Errorf("host path /work visible inside the container")
	}
	if m := rep.Mount("/"); m == nil || !strings.HasSuffix(m.Root, "/rootfs") {
		t.Errorf("/ is not the bundle's rootfs: %+v", m)
	}
}

// TestBindMounts bind-mounts a host directory (read-write) and a file (read-only).
func TestBindMounts(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "hello"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(hostFile, []byte("single file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bundle.New(t,
		bundle.WithArgs("/bin/sh", "-c",
			"/bin/probe write /mnt/dir/fromctr written && /bin/probe write /etc/file x; /bin/probe report --cat /mnt/dir/hello --cat /etc/file"),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/mnt/dir", Type: "bind", Source: hostDir, Options: []string{"rbind", "rw"}},
				specs.Mount{Destination: "/etc/file", Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}},
			)
		}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	lines := strings.Split(r.Stdout, "\n")
	if len(lines) < 2 || lines[0] != "ok" || lines[1] != "EROFS" {
		t.Errorf("writes to the rw dir / ro file: got %q, want ok then EROFS", lines[:min(2, len(lines))])
	}
	rep := bundle.ParseReport(t, r.Stdout)
	if got := rep.Cat["/mnt/dir/hello"]; got != "from host\n" {
		t.Errorf("/mnt/dir/hello = %q", got)
	}
	if got := rep.Cat["/etc/file"]; got != "single file\n" {
		t.Errorf("/etc/file = %q", got)
	}
	if m := rep.Mount("/etc/file"); m == nil || !m.HasOption("ro") {
		t.Errorf("/etc/file: %+v, want a ro mount", m)
	}
	data, err := os.ReadFile(filepath.Join(hostDir, "fromctr"))
	if err != nil || string(data) != "written" {
		t.Errorf("container write not seen on the host: %q, %v", data, err)
	}
}
