package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func minimalConfig(t *testing.T, extra ...configs.Mount) configs.Config {
	return configs.Config{
		Rootfs:     newRootfs(t),
		Namespaces: defaultNamespaces,
		Mounts: append([]configs.Mount{specMount("proc", "proc", "/proc"),
			specMount("tmpfs", "tmpfs", "/dev", "nosuid", "strictatime", "mode=755", "size=65536k")}, extra...),
	}
}

func TestBindMounts(t *testing.T) {
	host := t.TempDir()
	file := filepath.Join(host, "hostfile")
	rwDir := filepath.Join(host, "rw")
	roDir := filepath.Join(host, "ro")
	for _, d := range []string{rwDir, roDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := minimalConfig(t,
		specMount("bind", file, "/etc/deep/hostfile", "bind", "ro"),
		specMount("bind", rwDir, "/data/rw", "rbind", "rw"),
		specMount("bind", roDir, "/data/ro", "bind", "ro", "nosuid", "nodev"),
		specMount("tmpfs", "tmpfs", "/shared", "shared"),
	)
	rep := run(t, scenario{
		Config: cfg,
		Stat:   []string{"/etc/deep/hostfile"},
		Read:   []string{"/etc/deep/hostfile"},
		Write:  []string{"/data/rw/new", "/data/ro/new", "/etc/deep/hostfile"},
	}, 0)
	mustSucceed(t, rep)
	if s := rep.Stats["/etc/deep/hostfile"]; s.Type != "file" {
		t.Errorf("file bind mountpoint: %+v, want a file", s)
	}
	if got := rep.Reads["/etc/deep/hostfile"]; got != "hello" {
		t.Errorf("read bound file: %q", got)
	}
	if e := rep.Writes["/data/rw/new"]; e != "" {
		t.Errorf("write into rw bind: %s", e)
	}
	if b, err := os.ReadFile(filepath.Join(rwDir, "new")); err != nil || string(b) != "x" {
		t.Errorf("rw bind write not visible on host: %q %v", b, err)
	}
	for _, p := range []string{"/data/ro/new", "/etc/deep/hostfile"} {
		if !strings.Contains(rep.Writes[p], "read-only file system") {
			t.Errorf("write %s: %q, want EROFS", p, rep.Writes[p])
		}
	}
	if m, ok := findMount(rep, "/data/ro"); !ok || !hasOpt(m.Options, "ro") || !hasOpt(m.Options, "nosuid") || !hasOpt(m.Options, "nodev") {
		t.Errorf("/data/ro: %+v (found %v), want ro,nosuid,nodev", m, ok)
	}
	if m, ok := findMount(rep, "/shared"); !ok || !strings.Contains(m.Optional, "shared:") {
		t.Errorf("/shared: %+v (found %v), want shared propagation", m, ok)
	}
	if m, ok := findMount(rep, "/data/rw"); !ok || strings.Contains(m.Optional, "shared:") {
		t.Errorf("/data/rw: %+v (found %v), want private", m, ok)
	}
	if b, _ := os.ReadFile(file); string(b) != "hello" {
		t.Errorf("host file changed: %q", b)
	}
}

func TestTmpcopyup(t *testing.T) {
	cfg := minimalConfig(t, specMount("tmpfs", "tmpfs", "/app", "tmpcopyup", "mode=755"))
	app := filepath.Join(cfg.Rootfs, "app")
	if err := os.MkdirAll(filepath.Join(app, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "a.txt"), []byte("A"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(app, "a.txt"), 1000, 1001); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "sub", "b"), []byte("B"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(app, "link")); err != nil {
		t.Fatal(err)
	}
	rep := run(t, scenario{
		Config: cfg,
		Stat:   []string{"/app/a.txt", "/app/sub", "/app/link"},
		Read:   []string{"/app/a.txt", "/app/sub/b"},
		Write:  []string{"/app/new"},
	}, 0)
	mustSucceed(t, rep)
	if m, ok := findMount(rep, "/app"); !ok || m.FSType != "tmpfs" {
		t.Fatalf("/app: %+v (found %v), want tmpfs", m, ok)
	}
	if s := rep.Stats["/app/a.txt"]; s.Type != "file" || s.Perm != 0o640 || s.UID != 1000 || s.GID != 1001 {
		t.Errorf("/app/a.txt: %+v, want file 0640 1000:1001", s)
	}
	if s := rep.Stats["/app/sub"]; s.Type != "dir" || s.Perm != 0o750 {
		t.Errorf("/app/sub: %+v, want dir 0750", s)
	}
	if s := rep.Stats["/app/link"]; s.Type != "link" || s.Link != "a.txt" {
		t.Errorf("/app/link: %+v, want symlink to a.txt", s)
	}
	if rep.Reads["/app/a.txt"] != "A" || rep.Reads["/app/sub/b"] != "B" {
		t.Errorf("copied content: %v", rep.Reads)
	}
	if rep.Writes["/app/new"] != "" {
		t.Errorf("write /app/new: %s", rep.Writes["/app/new"])
	}
	if _, err := os.Lstat(filepath.Join(app, "new")); err == nil {
		t.Error("write into the tmpfs reached the image directory")
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	cfg := minimalConfig(t)
	for _, d := range []string{"secret/dir", "etc"} {
		if err := os.MkdirAll(filepath.Join(cfg.Rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"secret/dir/f", "secret/file", "etc/conf"} {
		if err := os.WriteFile(filepath.Join(cfg.Rootfs, f), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.MaskedPaths = []string{"/secret/dir", "/secret/file", "/missing/path"}
	cfg.ReadonlyPaths = []string{"/etc", "/missing/too"}
	rep := run(t, scenario{
		Config: cfg,
		Stat:   []string{"/secret/file", "/secret/dir/f"},
		Read:   []string{"/secret/file"},
		Write:  []string{"/etc/conf", "/secret/dir/new", "/tmp/ok"},
	}, 0)
	mustSucceed(t, rep)
	if s := rep.Stats["/secret/file"]; s.Type != "char" || s.Major != 1 || s.Minor != 3 {
		t.Errorf("masked file: %+v, want /dev/null (char 1:3)", s)
	}
	if rep.Reads["/secret/file"] != "" {
		t.Errorf("masked file reads %q", rep.Reads["/secret/file"])
	}
	if s := rep.Stats["/secret/dir/f"]; s.Err == "" {
		t.Errorf("masked dir still shows f: %+v", s)
	}
	if m, ok := findMount(rep, "/secret/dir"); !ok || m.FSType != "tmpfs" || !hasOpt(m.Options, "ro") {
		t.Errorf("/secret/dir: %+v (found %v), want read-only tmpfs", m, ok)
	}
	for _, p := range []string{"/etc/conf", "/secret/dir/new"} {
		if !strings.Contains(rep.Writes[p], "read-only file system") {
			t.Errorf("write %s: %q, want EROFS", p, rep.Writes[p])
		}
	}
	if rep.Writes["/tmp/ok"] != "" {
		t.Errorf("write /tmp/ok: %s", rep.Writes["/tmp/ok"])
	}
}

func TestRootReadonly(t *testing.T) {
	cfg := minimalConfig(t, specMount("tmpfs", "tmpfs", "/tmp", "mode=1777"))
	cfg.Readonly = true
	rep := run(t, scenario{Config: cfg, Write: []string{"/etc/x", "/tmp/ok"}}, 0)
	mustSucceed(t, rep)
	if m, ok := findMount(rep, "/"); !ok || !hasOpt(m.Options, "ro") {
		t.Errorf("/: %+v, want ro", m)
	}
	if !strings.Contains(rep.Writes["/etc/x"], "read-only file system") {
		t.Errorf("write /etc/x: %q, want EROFS", rep.Writes["/etc/x"])
	}
	if rep.Writes["/tmp/ok"] != "" {
		t.Errorf("write /tmp/ok on a rw tmpfs: %s", rep.Writes["/tmp/ok"])
	}
}

func TestNoPivot(t *testing.T) {
	cfg := minimalConfig(t)
	cfg.NoPivot = true
	if err := os.WriteFile(filepath.Join(cfg.Rootfs, "etc", "marker"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := run(t, scenario{Config: cfg, Read: []string{"/etc/marker"}, Stat: []string{"/dev/null", cfg.Rootfs}}, 0)
	mustSucceed(t, rep)
	if rep.Reads["/etc/marker"] != "inside" {
		t.Errorf("/etc/marker: %q, want the rootfs's file", rep.Reads["/etc/marker"])
	}
	if s := rep.Stats["/dev/null"]; s.Type != "char" || s.Major != 1 || s.Minor != 3 {
		t.Errorf("/dev/null: %+v", s)
	}
	if s := rep.Stats[cfg.Rootfs]; s.Err == "" {
		t.Errorf("host path %s visible after chroot: %+v", cfg.Rootfs, s)
	}
	if _, ok := findMount(rep, "/dev"); !ok {
		t.Errorf("no /dev mount seen from the new root: %+v", rep.Mounts)
	}
}

func TestDevicesFromConfig(t *testing.T) {
	cfg := minimalConfig(t)
	cfg.Devices = []configs.Device{
		{Type: 'c', Path: "/dev/net/tun", Major: 10, Minor: 200, FileMode: 0o620, UID: 1, GID: 2},
		{Type: 'c', Path: "/dev/null", Major: 1, Minor: 3, FileMode: 0o600},
	}
	rep := run(t, scenario{Config: cfg, Stat: []string{"/dev/net/tun", "/dev/null", "/dev/zero"}}, 0)
	mustSucceed(t, rep)
	want := map[string]statResult{
		"/dev/net/tun": {Type: "char", Perm: 0o620, Major: 10, Minor: 200, UID: 1, GID: 2},
		"/dev/null":    {Type: "char", Perm: 0o600, Major: 1, Minor: 3},
		"/dev/zero":    {Type: "char", Perm: 0o666, Major: 1, Minor: 5},
	}
	for p, w := range want {
		if got := rep.Stats[p]; got != w {
			t.Errorf("%s: %+v, want %+v", p, got, w)
		}
	}
}

func TestConsole(t *testing.T) {
	devpts := specMount("devpts", "devpts", "/dev/pts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
	rep := run(t, scenario{Config: minimalConfig(t, devpts), Console: "pty", Stat: []string{"/dev/console"}}, 0)
	mustSucceed(t, rep)
	if s := rep.Stats["/dev/console"]; s.Type != "char" || s.Major != 136 {
		t.Errorf("/dev/console: %+v, want a pty slave (136:N)", s)
	}

	// CVE-2025-52565: a /dev/console symlink is refused, not mounted through.
	rep = run(t, scenario{Config: minimalConfig(t, devpts), Console: "symlink"}, 0)
	if rep.Stage != "console" || !strings.Contains(rep.Error, "symlink") {
		t.Errorf("console over a symlink: stage %q error %q, want a refusal", rep.Stage, rep.Error)
	}
}

func TestWriteSysctls(t *testing.T) {
	cfg := minimalConfig(t)
	rep := run(t, scenario{
		Config: cfg,
		Sysctl: map[string]string{"net.ipv4.ip_forward": "1", "kernel/shmmni": "1234"},
		Read:   []string{"/proc/sys/net/ipv4/ip_forward"},
	}, 0)
	mustSucceed(t, rep)
	if got := strings.TrimSpace(rep.Reads["/proc/sys/net/ipv4/ip_forward"]); got != "1" {
		t.Errorf("net.ipv4.ip_forward in the container's netns: %q, want 1", got)
	}
}

func TestOverlay(t *testing.T) {
	host := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"lower1", "lower2", "upper", "work"} {
		dirs[d] = filepath.Join(host, d)
		if err := os.Mkdir(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["lower2"], "l2"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	ov := specMount("overlay", "overlay", "/ov", "lowerdir="+dirs["lower1"]+":"+dirs["lower2"],
		"upperdir="+dirs["upper"], "workdir="+dirs["work"])
	rep := run(t, scenario{Config: minimalConfig(t, ov), Read: []string{"/ov/l2"}, Write: []string{"/ov/new"}}, 0)
	mustSucceed(t, rep)
	if m, ok := findMount(rep, "/ov"); !ok || m.FSType != "overlay" {
		t.Errorf("/ov: %+v (found %v), want overlay", m, ok)
	}
	if rep.Reads["/ov/l2"] != "two" || rep.Writes["/ov/new"] != "" {
		t.Errorf("overlay content: reads %v writes %v", rep.Reads, rep.Writes)
	}
	if _, err := os.Stat(filepath.Join(dirs["upper"], "new")); err != nil {
		t.Errorf("write did not reach upperdir: %v", err)
	}
}

// TestRemount: a "remount" entry changes the mount an earlier entry made, flags
// and superblock data, instead of stacking a new one; on a path that is not a
// mount point it is refused, since it would change the rootfs mount itself.
func TestRemount(t *testing.T) {
	cfg := minimalConfig(t,
		specMount("tmpfs", "tmpfs", "/rm", "size=1m"),
		specMount("tmpfs", "tmpfs", "/rm", "remount", "ro", "nodev", "size=2m"),
	)
	rep := run(t, scenario{Config: cfg}, 0)
	mustSucceed(t, rep)
	n := 0
	for _, m := range rep.Mounts {
		if m.Mountpoint == "/rm" {
			n++
		}
	}
	m, _ := findMount(rep, "/rm")
	if n != 1 || !hasOpt(m.Options, "ro") || !hasOpt(m.Options, "nodev") || !hasOpt(m.SuperOptions, "size=2048k") {
		t.Errorf("/rm: %d mounts, last %+v; want one, ro,nodev with size=2048k", n, m)
	}

	cfg = minimalConfig(t, specMount("tmpfs", "tmpfs", "/etc", "remount", "ro"))
	rep = run(t, scenario{Config: cfg}, 0)
	if !strings.Contains(rep.Error, "not a mount point") {
		t.Errorf("remount of a plain directory: %q, want a refusal", rep.Error)
	}
}
