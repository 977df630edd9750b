package rootfs

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

var defaultNamespaces = []configs.Namespace{{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}}

// runcSpecMounts are the mounts of `runc spec` (runc 1.1.5).
func runcSpecMounts() []configs.Mount {
	return []configs.Mount{
		specMount("proc", "proc", "/proc"),
		specMount("tmpfs", "tmpfs", "/dev", "nosuid", "strictatime", "mode=755", "size=65536k"),
		specMount("devpts", "devpts", "/dev/pts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
		specMount("tmpfs", "shm", "/dev/shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
		specMount("mqueue", "mqueue", "/dev/mqueue", "nosuid", "noexec", "nodev"),
		specMount("sysfs", "sysfs", "/sys", "nosuid", "noexec", "nodev", "ro"),
		specMount("cgroup", "cgroup", "/sys/fs/cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
	}
}

var (
	runcMasked   = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}
	runcReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// hostCgroups describes this process's own v1 cgroups, so the bind mounts
// of a no-cgroupns container show directories that exist without creating any.
func hostCgroups(t *testing.T) *CgroupMount {
	t.Helper()
	own := map[string]string{} // controller list → path
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 {
			own[f[1]] = f[2]
		}
	}
	cg := &CgroupMount{Paths: map[string]string{}, Controllers: map[string][]string{}}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mi.Close()
	sc := bufio.NewScanner(mi)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		a, p := strings.Fields(pre), strings.Fields(post)
		if len(p) < 3 || len(a) < 5 {
			continue
		}
		switch p[0] {
		case "cgroup2":
			cg.Paths[a[4]] = filepath.Join(a[4], own[""])
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(p[2], ",") {
				if o != "rw" && o != "ro" {
					ctrls = append(ctrls, o)
				}
			}
			key := strings.Join(ctrls, ",")
			cg.Paths[a[4]] = filepath.Join(a[4], own[key])
			cg.Controllers[a[4]] = ctrls
		}
	}
	if len(cg.Controllers) == 0 {
		t.Skip("needs the cgroup v1 hierarchies of this machine")
	}
	return cg
}

func defaultConfig(t *testing.T) configs.Config {
	return configs.Config{
		Rootfs:        newRootfs(t),
		Namespaces:    defaultNamespaces,
		Mounts:        runcSpecMounts(),
		MaskedPaths:   runcMasked,
		ReadonlyPaths: runcReadonly,
	}
}

func TestDefaultSpec(t *testing.T) {
	cfg := defaultConfig(t)
	rep := run(t, scenario{
		Config: cfg,
		Cgroup: hostCgroups(t),
		Stat: []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
			"/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/core", "/proc/kcore", "/proc/keys"},
		Write: []string{"/proc/sys/kernel/hostname", "/sys/kernel/x", "/sys/fs/cgroup/memory/x", "/dev/shm/ok"},
	}, 0)
	mustSucceed(t, rep)

	mounts := []struct {
		mp, fstype string
		opts       []string
		super      []string
	}{
		{"/", "", []string{"rw"}, nil},
		{"/proc", "proc", []string{"rw"}, nil},
		{"/dev", "tmpfs", []string{"rw", "nosuid"}, []string{"size=65536k", "mode=755"}},
		{"/dev/pts", "devpts", []string{"nosuid", "noexec"}, []string{"gid=5", "mode=620", "ptmxmode=666"}},
		{"/dev/shm", "tmpfs", []string{"nosuid", "nodev", "noexec"}, []string{"size=65536k"}},
		{"/dev/mqueue", "mqueue", []string{"nosuid", "nodev", "noexec"}, nil},
		{"/sys", "sysfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		{"/sys/fs/cgroup", "tmpfs", []string{"ro", "nosuid", "nodev", "noexec"}, nil},
		{"/sys/fs/cgroup/memory", "cgroup", []string{"ro", "nosuid", "nodev", "noexec"}, []string{"memory"}},
		{"/sys/fs/cgroup/unified", "cgroup2", []string{"ro"}, nil},
		{"/proc/sys", "proc", []string{"ro"}, nil},
		{"/proc/keys", "tmpfs", nil, nil}, // masked by a bind of the /dev tmpfs's null
		{"/sys/firmware", "tmpfs", []string{"ro"}, nil},
	}
	for _, w := range mounts {
		m, ok := findMount(rep, w.mp)
		if !ok {
			t.Errorf("no mount at %s; mounts: %+v", w.mp, rep.Mounts)
			continue
		}
		if w.fstype != "" && m.FSType != w.fstype {
			t.Errorf("%s: fstype %s, want %s", w.mp, m.FSType, w.fstype)
		}
		for _, o := range w.opts {
			if !hasOpt(m.Options, o) {
				t.Errorf("%s: options %q lack %q", w.mp, m.Options, o)
			}
		}
		for _, o := range w.super {
			if !hasOpt(m.SuperOptions, o) {
				t.Errorf("%s: super options %q lack %q", w.mp, m.SuperOptions, o)
			}
		}
	}
	if m, _ := findMount(rep, "/dev"); hasOpt(m.Options, "relatime") {
		t.Errorf("/dev is %q, want strictatime (no relatime)", m.Options)
	}

	devs := map[string][2]uint32{"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7},
		"/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/tty": {5, 0}, "/proc/keys": {1, 3}}
	for p, mm := range devs {
		s := rep.Stats[p]
		if s.Type != "char" || s.Major != mm[0] || s.Minor != mm[1] {
			t.Errorf("%s: %+v, want char %d:%d", p, s, mm[0], mm[1])
		}
		if strings.HasPrefix(p, "/dev/") && s.Perm != 0o666 {
			t.Errorf("%s: mode %o, want 666", p, s.Perm)
		}
	}
	links := map[string]string{"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links["/dev/core"] = "/proc/kcore"
	}
	for p, want := range links {
		if s := rep.Stats[p]; s.Type != "link" || s.Link != want {
			t.Errorf("%s: %+v, want symlink to %s", p, s, want)
		}
	}
	for _, p := range []string{"/proc/sys/kernel/hostname", "/sys/kernel/x", "/sys/fs/cgroup/memory/x"} {
		if !strings.Contains(rep.Writes[p], "read-only file system") {
			t.Errorf("write %s: %q, want EROFS", p, rep.Writes[p])
		}
	}
	if rep.Writes["/dev/shm/ok"] != "" {
		t.Errorf("write /dev/shm/ok: %s", rep.Writes["/dev/shm/ok"])
	}
}

// TestSysfsHostNetwork: without a network namespace, /sys is the host's, bound
// recursively read-only.
func TestSysfsHostNetwork(t *testing.T) {
	cfg := configs.Config{
		Rootfs:     newRootfs(t),
		Namespaces: []configs.Namespace{{Type: "pid"}, {Type: "mount"}},
		Mounts: []configs.Mount{specMount("proc", "proc", "/proc"),
			specMount("sysfs", "sysfs", "/sys", "nosuid", "noexec", "nodev", "ro")},
	}
	rep := run(t, scenario{Config: cfg, Write: []string{"/sys/fs/cgroup/memory/x", "/sys/kernel/x"}}, 0)
	mustSucceed(t, rep)
	for _, mp := range []string{"/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/memory"} {
		m, ok := findMount(rep, mp)
		if !ok || !hasOpt(m.Options, "ro") {
			t.Errorf("%s: %+v (found %v), want a read-only bind", mp, m, ok)
		}
	}
	for p, e := range rep.Writes {
		if !strings.Contains(e, "read-only file system") {
			t.Errorf("write %s: %q, want EROFS", p, e)
		}
	}
}

func TestCgroupNamespaceV1(t *testing.T) {
	cg := hostCgroups(t)
	cg.NSCgroup = true
	cfg := configs.Config{
		Rootfs:     newRootfs(t),
		Namespaces: append(defaultNamespaces, configs.Namespace{Type: "cgroup"}),
		Mounts: []configs.Mount{specMount("proc", "proc", "/proc"),
			specMount("cgroup", "cgroup", "/sys/fs/cgroup", "nosuid", "noexec", "nodev", "relatime", "ro")},
	}
	rep := run(t, scenario{Config: cfg, Cgroup: cg, Write: []string{"/sys/fs/cgroup/pids/x"}}, syscall.CLONE_NEWCGROUP)
	mustSucceed(t, rep)
	for mp, ctrls := range cg.Controllers {
		m, ok := findMount(rep, filepath.Join("/sys/fs/cgroup", filepath.Base(mp)))
		if !ok || m.FSType != "cgroup" || !hasOpt(m.Options, "ro") {
			t.Errorf("%s: %+v (found %v), want a read-only cgroup mount", mp, m, ok)
			continue
		}
		for _, c := range ctrls {
			if !hasOpt(m.SuperOptions, c) {
				t.Errorf("%s: super options %q lack %q", mp, m.SuperOptions, c)
			}
		}
	}
	if !strings.Contains(rep.Writes["/sys/fs/cgroup/pids/x"], "read-only") {
		t.Errorf("write in cgroupfs: %q, want EROFS", rep.Writes["/sys/fs/cgroup/pids/x"])
	}
}
