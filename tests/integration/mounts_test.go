package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The mounts_*_test.go files cover the "Rootfs, mounts and devices" issue:
// every mount type and option, read back from /proc/self/mountinfo (and
// lstat) inside the container.

// optIn reports whether the comma-separated list holds opt.
func optIn(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// mountAt returns the visible mount at mp, failing t when there is none.
func mountAt(t *testing.T, rep *report.Report, mp string) *report.Mount {
	t.Helper()
	m := rep.Mount(mp)
	if m == nil {
		t.Errorf("no mount at %s", mp)
	}
	return m
}

// mountsAt counts the mounts stacked at mp.
func mountsAt(rep *report.Report, mp string) int {
	n := 0
	for _, m := range rep.Mounts {
		if m.Mountpoint == mp {
			n++
		}
	}
	return n
}

// checkOpts asserts per-mount options present (want) and absent (not) on m.
func checkOpts(t *testing.T, m *report.Mount, want, not []string) {
	t.Helper()
	if m == nil {
		return
	}
	for _, o := range want {
		if !optIn(m.Options, o) {
			t.Errorf("%s: options %q lack %s", m.Mountpoint, m.Options, o)
		}
	}
	for _, o := range not {
		if optIn(m.Options, o) {
			t.Errorf("%s: options %q have %s", m.Mountpoint, m.Options, o)
		}
	}
}

// checkSuper asserts superblock options of m.
func checkSuper(t *testing.T, m *report.Mount, want ...string) {
	t.Helper()
	if m == nil {
		return
	}
	for _, o := range want {
		if !optIn(m.SuperOpts, o) {
			t.Errorf("%s: super options %q lack %s", m.Mountpoint, m.SuperOpts, o)
		}
	}
}

// hostMount is one line of the test process's /proc/self/mountinfo.
type hostMount struct {
	id         int
	devID      string // major:minor
	root       string
	mountpoint string
	optional   string
	fstype     string
}

func hostMounts(t *testing.T) []hostMount {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hostMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+2 {
			continue
		}
		id, _ := strconv.Atoi(fields[0])
		out = append(out, hostMount{
			id: id, devID: fields[2], root: fields[3], mountpoint: fields[4],
			optional: strings.Join(fields[6:sep], " "), fstype: fields[sep+1],
		})
	}
	return out
}

// hostMountAt is the host's visible mount at mp.
func hostMountAt(t *testing.T, mp string) *hostMount {
	t.Helper()
	ms := hostMounts(t)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].mountpoint == mp {
			return &ms[i]
		}
	}
	return nil
}

func writeHostFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// probeArgs makes the probe report lstat of paths and the content of cats.
func probeArgs(stats, cats []string) bundle.Option {
	args := []string{"report"}
	for _, p := range stats {
		args = append(args, "--stat", p)
	}
	for _, p := range cats {
		args = append(args, "--cat", p)
	}
	return bundle.WithProbe(args...)
}

// TestMountBind binds a host directory and a host file to destinations whose
// parents do not exist: the runtime creates a directory for the one, an empty
// regular file for the other, and the parents as root-owned 0755 directories.
func TestMountBind(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	writeHostFile(t, filepath.Join(hostDir, "hello"), "dir content\n", 0o644)
	hostFile := filepath.Join(t.TempDir(), "file")
	writeHostFile(t, hostFile, "file content\n", 0o600)
	b := bundle.New(t,
		probeArgs([]string{"/deep/a/b/dir", "/deep/x/y/file", "/deep/a", "/deep/x/y"},
			[]string{"/deep/a/b/dir/hello", "/deep/x/y/file"}),
		withMount(specs.Mount{Destination: "/deep/a/b/dir", Type: "bind", Source: hostDir, Options: []string{"bind"}}),
		withMount(specs.Mount{Destination: "/deep/x/y/file", Source: hostFile, Options: []string{"rbind", "ro"}}),
	)
	rep := b.Report(t)
	if st := rep.Stat["/deep/a/b/dir"]; st.Type != "dir" {
		t.Errorf("/deep/a/b/dir: %+v, want a directory", st)
	}
	if st := rep.Stat["/deep/x/y/file"]; st.Type != "file" || st.Mode != 0o600 {
		t.Errorf("/deep/x/y/file: %+v, want the bound regular file, mode 0600", st)
	}
	for _, p := range []string{"/deep/a", "/deep/x/y"} {
		if st := rep.Stat[p]; st.Type != "dir" || st.UID != 0 || st.GID != 0 || st.Mode != 0o755 {
			t.Errorf("created parent %s: %+v, want a root-owned 0755 directory", p, st)
		}
	}
	if got := rep.Cat["/deep/a/b/dir/hello"]; got != "dir content\n" {
		t.Errorf("/deep/a/b/dir/hello = %q", got)
	}
	if got := rep.Cat["/deep/x/y/file"]; got != "file content\n" {
		t.Errorf("/deep/x/y/file = %q", got)
	}
	if m := mountAt(t, rep, "/deep/a/b/dir"); m != nil && m.Root != hostDir {
		t.Errorf("/deep/a/b/dir: mount root %q, want the host dir %q", m.Root, hostDir)
	}
	if m := mountAt(t, rep, "/deep/x/y/file"); m != nil {
		checkOpts(t, m, []string{"ro"}, nil)
		if m.Root != hostFile {
			t.Errorf("/deep/x/y/file: mount root %q, want %q", m.Root, hostFile)
		}
	}
	// The mountpoint of the file bind is a regular file in the rootfs.
	if st, err := os.Lstat(filepath.Join(b.Rootfs, "deep/x/y/file")); err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
		t.Errorf("host side of the file mountpoint: %v, %v; want an empty regular file", st, err)
	}
}

// TestMountBindRecursive builds a tree with a submount inside the container
// (tmpfs /src, tmpfs /src/sub) and binds it twice: "bind" takes the top mount
// only, "rbind" the submount too.
func TestMountBindRecursive(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, probeArgs([]string{"/nb/sub", "/rb/sub/f"}, nil))
	src := filepath.Join(b.Rootfs, "src")
	b.Edit(t, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/src", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/src/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
			specs.Mount{Destination: "/nb", Type: "bind", Source: src, Options: []string{"bind"}},
			specs.Mount{Destination: "/rb", Type: "bind", Source: src, Options: []string{"rbind"}},
		)
	})
	rep := b.Report(t)
	mountAt(t, rep, "/nb")
	if m := rep.Mount("/nb/sub"); m != nil {
		t.Errorf("bind (not rbind) carried the submount: %+v", m)
	}
	if st := rep.Stat["/nb/sub"]; st.Type != "dir" {
		t.Errorf("/nb/sub: %+v, want the plain mountpoint directory", st)
	}
	if m := mountAt(t, rep, "/rb/sub"); m != nil {
		if m.FSType != "tmpfs" || !optIn(m.SuperOpts, "size=1024k") {
			t.Errorf("/rb/sub: %s %q, want the 1m tmpfs of /src/sub", m.FSType, m.SuperOpts)
		}
	}
}

// TestMountTmpfs checks size, mode, uid and gid of a tmpfs and its root inode.
func TestMountTmpfs(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, probeArgs([]string{"/t"}, nil),
		withMount(specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"size=1m", "mode=1750", "uid=1000", "gid=100", "nr_inodes=100"}}))
	rep := b.Report(t)
	m := mountAt(t, rep, "/t")
	if m != nil && m.FSType != "tmpfs" {
		t.Errorf("/t: fstype %s", m.FSType)
	}
	checkSuper(t, m, "size=1024k", "mode=1750", "uid=1000", "gid=100", "nr_inodes=100")
	if st := rep.Stat["/t"]; st.Type != "dir" || st.Mode != 0o1750 || st.UID != 1000 || st.GID != 100 {
		t.Errorf("/t root inode: %+v, want dir 01750 1000:100", st)
	}
}

// TestMountDevptsMqueueProc checks the kernel filesystems of the default
// spec beyond their type: devpts is a new instance with the asked modes and
// gid and /dev/ptmx leads to it; mqueue and proc are the container's own.
func TestMountDevptsMqueueProc(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, probeArgs([]string{"/dev/pts/ptmx", "/dev/ptmx"}, nil))
	rep := b.Report(t)
	pts := mountAt(t, rep, "/dev/pts")
	if pts != nil && pts.FSType != "devpts" {
		t.Errorf("/dev/pts: fstype %s", pts.FSType)
	}
	checkSuper(t, pts, "gid=5", "mode=620", "ptmxmode=666")
	if st := rep.Stat["/dev/pts/ptmx"]; st.Type != "char" || st.Mode != 0o666 || st.Major != 5 || st.Minor != 2 {
		t.Errorf("/dev/pts/ptmx: %+v, want char 5:2 mode 0666 (ptmxmode)", st)
	}
	if host := hostMountAt(t, "/dev/pts"); host != nil && pts != nil &&
		host.devID == strconv.Itoa(pts.Major)+":"+strconv.Itoa(pts.Minor) {
		t.Errorf("/dev/pts is the host's devpts %s, want a new instance", host.devID)
	}
	if st := rep.Stat["/dev/ptmx"]; st.Type != "symlink" || st.Link != "pts/ptmx" {
		t.Errorf("/dev/ptmx: %+v, want a symlink to pts/ptmx", st)
	}
	mq := mountAt(t, rep, "/dev/mqueue")
	if mq != nil && mq.FSType != "mqueue" {
		t.Errorf("/dev/mqueue: fstype %s", mq.FSType)
	}
	checkOpts(t, mq, []string{"nosuid", "nodev", "noexec"}, nil)
	if p := mountAt(t, rep, "/proc"); p != nil && p.FSType != "proc" {
		t.Errorf("/proc: fstype %s", p.FSType)
	}
}

// TestMountSysfs: with a network namespace /sys is a sysfs of its own;
// without one the host's /sys is bound instead (a new sysfs would be refused),
// read-only down to every submount.
func TestMountSysfs(t *testing.T) {
	t.Parallel()
	host := hostMountAt(t, "/sys")
	if host == nil {
		t.Skip("the host has no /sys mount")
	}
	for _, netns := range []bool{true, false} {
		t.Run("netns="+strconv.FormatBool(netns), func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
				if !netns {
					s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, specs.NetworkNamespace)
				}
			}))
			rep := b.Report(t)
			var sys *report.Mount
			for i := range rep.Mounts {
				if rep.Mounts[i].Mountpoint == "/sys" {
					sys = &rep.Mounts[i]
					break
				}
			}
			if sys == nil || sys.FSType != "sysfs" {
				t.Fatalf("/sys: %+v, want sysfs", sys)
			}
			dev := strconv.Itoa(sys.Major) + ":" + strconv.Itoa(sys.Minor)
			if netns && dev == host.devID {
				t.Errorf("/sys is the host's sysfs %s despite a network namespace", dev)
			}
			if !netns && dev != host.devID {
				t.Errorf("/sys is sysfs %s, want a bind of the host's %s", dev, host.devID)
			}
			for _, m := range rep.Mounts {
				// runc 1.1.5 leaves the v1 cgroup tmpfs itself writable (its
				// hierarchies are read-only): the spec's "ro" is not applied to it.
				if m.Mountpoint == "/sys/fs/cgroup" && m.FSType == "tmpfs" && bundle.IsRunc(t) {
					continue
				}
				if m.Mountpoint == "/sys" || strings.HasPrefix(m.Mountpoint, "/sys/") {
					checkOpts(t, &m, []string{"ro"}, nil)
				}
			}
		})
	}
}

// withoutNS drops the namespace of type typ.
func withoutNS(in []specs.LinuxNamespace, typ specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range in {
		if ns.Type != typ {
			out = append(out, ns)
		}
	}
	return out
}

// isCgroup2Only reports a host with a pure cgroup v2 hierarchy.
func isCgroup2Only() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// TestMountCgroupV1: a "cgroup" mount gives one mount per host hierarchy,
// read-only unless the entry says rw. Without a cgroup namespace each is a
// bind of the container's own cgroup directory; inside one it is a cgroup
// mount whose root is the container's cgroup, which /proc/self/cgroup shows
// as "/".
func TestMountCgroupV1(t *testing.T) {
	t.Parallel()
	if isCgroup2Only() {
		t.Skip("pure cgroup v2 host: the v1 layout does not apply")
	}
	var hierarchies []string
	for _, m := range hostMounts(t) {
		if m.fstype == "cgroup" && filepath.Dir(m.mountpoint) == "/sys/fs/cgroup" {
			hierarchies = append(hierarchies, m.mountpoint)
		}
	}
	if len(hierarchies) == 0 {
		t.Skip("no cgroup v1 hierarchy under /sys/fs/cgroup on the host")
	}
	cases := []struct {
		name     string
		cgroupns bool
		rw       bool
	}{
		{"bind-ro", false, false},
		{"bind-rw", false, true},
		{"cgroupns-ro", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
				if tc.cgroupns {
					s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
				}
				for i := range s.Mounts {
					if s.Mounts[i].Type == "cgroup" && tc.rw {
						s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
					}
				}
			}))
			rep := b.Report(t)
			for _, h := range hierarchies {
				m := mountAt(t, rep, h)
				if m == nil {
					continue
				}
				if m.FSType != "cgroup" {
					t.Errorf("%s: fstype %s, want cgroup", h, m.FSType)
				}
				if tc.rw {
					checkOpts(t, m, []string{"rw"}, nil)
				} else {
					checkOpts(t, m, []string{"ro"}, nil)
				}
				wantRoot := "/" + b.CgroupsPath
				if tc.cgroupns {
					if m.Root != "/" {
						t.Errorf("%s: root %q, want / inside the cgroup namespace", h, m.Root)
					}
				} else if !strings.HasSuffix(m.Root, wantRoot) {
					t.Errorf("%s: root %q, want the container's cgroup ...%s", h, m.Root, wantRoot)
				}
			}
			if tc.cgroupns {
				for _, l := range strings.Split(strings.TrimSpace(rep.Cgroup), "\n") {
					if !strings.HasSuffix(l, ":/") {
						t.Errorf("/proc/self/cgroup line %q, want the namespace root /", l)
					}
				}
			}
		})
	}
}

// TestMountOverlay mounts an overlay of host temp dirs: the lower file is
// visible, a write lands in upperdir, the lower dir stays as it was.
func TestMountOverlay(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	lower, upper, work := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work")
	writeHostFile(t, filepath.Join(lower, "l"), "lower\n", 0o644)
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := bundle.New(t,
		bundle.WithArgs("/bin/sh", "-c", "/bin/probe write /ov/new upper && /bin/probe report --cat /ov/l"),
		withMount(specs.Mount{Destination: "/ov", Type: "overlay", Source: "overlay",
			Options: []string{"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + work}}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "ok\n") {
		t.Fatalf("write into the overlay: %v", r)
	}
	rep := bundle.ParseReport(t, r.Stdout)
	if m := mountAt(t, rep, "/ov"); m != nil {
		if m.FSType != "overlay" {
			t.Errorf("/ov: fstype %s", m.FSType)
		}
		checkSuper(t, m, "lowerdir="+lower, "upperdir="+upper, "workdir="+work)
	}
	if got := rep.Cat["/ov/l"]; got != "lower\n" {
		t.Errorf("/ov/l = %q, want the lower file", got)
	}
	if data, err := os.ReadFile(filepath.Join(upper, "new")); err != nil || string(data) != "upper" {
		t.Errorf("upperdir/new: %q, %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(lower, "new")); err == nil {
		t.Errorf("the write reached the lower dir")
	}
}

// TestMountTmpcopyup: runc's tmpcopyup copies the mountpoint's content
// (modes, owners, symlinks) into the new tmpfs; writes stay in the tmpfs.
func TestMountTmpcopyup(t *testing.T) {
	t.Parallel()
	b := bundle.New(t,
		bundle.WithArgs("/bin/sh", "-c", "/bin/probe write /opt/data/new x && /bin/probe report"+
			" --cat /opt/data/f --cat /opt/data/sub/g --stat /opt/data/f --stat /opt/data/link --stat /opt/data/sub"),
		withMount(specs.Mount{Destination: "/opt/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "mode=755"}}))
	data := filepath.Join(b.Rootfs, "opt/data")
	writeHostFile(t, filepath.Join(data, "f"), "copied\n", 0o604)
	writeHostFile(t, filepath.Join(data, "sub/g"), "nested\n", 0o644)
	for _, err := range []error{
		os.Chown(filepath.Join(data, "f"), 1000, 100),
		os.Chmod(filepath.Join(data, "sub"), 0o710),
		os.Symlink("f", filepath.Join(data, "link")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "ok\n") {
		t.Fatalf("write into the tmpcopyup tmpfs: %v", r)
	}
	rep := bundle.ParseReport(t, r.Stdout)
	if m := mountAt(t, rep, "/opt/data"); m != nil && m.FSType != "tmpfs" {
		t.Errorf("/opt/data: fstype %s, want tmpfs", m.FSType)
	}
	if got := rep.Cat["/opt/data/f"] + rep.Cat["/opt/data/sub/g"]; got != "copied\nnested\n" {
		t.Errorf("copied content = %q", got)
	}
	if st := rep.Stat["/opt/data/f"]; st.Mode != 0o604 || st.UID != 1000 || st.GID != 100 {
		t.Errorf("/opt/data/f: %+v, want 0604 1000:100", st)
	}
	if st := rep.Stat["/opt/data/sub"]; st.Type != "dir" || st.Mode != 0o710 {
		t.Errorf("/opt/data/sub: %+v, want dir 0710", st)
	}
	if st := rep.Stat["/opt/data/link"]; st.Type != "symlink" || st.Link != "f" {
		t.Errorf("/opt/data/link: %+v, want a symlink to f", st)
	}
	if _, err := os.Lstat(filepath.Join(data, "new")); err == nil {
		t.Errorf("a write into the tmpfs reached the rootfs")
	}
}
