package libcontainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestMayExec(t *testing.T) {
	caps := func(eff ...string) *configs.Capabilities { return &configs.Capabilities{Effective: eff} }
	for _, tc := range []struct {
		name string
		st   unix.Stat_t
		proc configs.Process
		maps []configs.IDMap
		want bool
	}{
		{"root without caps field", unix.Stat_t{Mode: 0o100}, configs.Process{}, nil, true},
		{"no x bit at all", unix.Stat_t{Mode: 0o644}, configs.Process{}, nil, false},
		{"root with DAC_OVERRIDE, other's x only", unix.Stat_t{Uid: 5, Mode: 0o001}, configs.Process{Capabilities: caps("CAP_DAC_OVERRIDE")}, nil, true},
		{"root without DAC_OVERRIDE, owner x of another", unix.Stat_t{Uid: 5, Mode: 0o100}, configs.Process{Capabilities: caps("CAP_KILL")}, nil, false},
		{"owner", unix.Stat_t{Uid: 1000, Mode: 0o100}, configs.Process{UID: 1000, GID: 1000}, nil, true},
		{"owner without the owner's bit", unix.Stat_t{Uid: 1000, Mode: 0o011}, configs.Process{UID: 1000, GID: 1000}, nil, false},
		{"group", unix.Stat_t{Gid: 7, Mode: 0o010}, configs.Process{UID: 1000, GID: 7}, nil, true},
		{"additional group", unix.Stat_t{Gid: 7, Mode: 0o010}, configs.Process{UID: 1000, GID: 1, AdditionalGids: []uint32{7}}, nil, true},
		{"other", unix.Stat_t{Uid: 1, Gid: 1, Mode: 0o001}, configs.Process{UID: 1000, GID: 1000}, nil, true},
		{"userns: container 1000 is host 101000", unix.Stat_t{Uid: 101000, Mode: 0o100}, configs.Process{UID: 1000, GID: 1000},
			[]configs.IDMap{{ContainerID: 0, HostID: 100000, Size: 65536}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &configs.Config{Process: tc.proc, UIDMappings: tc.maps, GIDMappings: tc.maps}
			if got := mayExec(&tc.st, cfg); got != tc.want {
				t.Errorf("mayExec = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCheckProgram: args[0] is looked up in the rootfs as init does; a path
// a mount covers is never an error.
func TestCheckProgram(t *testing.T) {
	rootfs := t.TempDir()
	for _, d := range []string{"bin", "usr/bin", "opt"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/busybox", filepath.Join(rootfs, "usr/bin", "sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "secret"), nil, 0o700); err != nil {
		t.Fatal(err)
	}
	// Debian's merged /usr: /lib is a link into /usr, which a mount may bring.
	if err := os.Symlink("usr/lib", filepath.Join(rootfs, "lib")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		env    []string
		cwd    string
		uid    uint32
		mounts []configs.Mount
		want   string // "" none; "warning: ..." a warning
	}{
		{"absolute", []string{"/bin/busybox"}, nil, "/", 0, nil, ""},
		{"in PATH through an absolute symlink", []string{"sh"}, []string{"PATH=/usr/bin:/bin"}, "/", 0, nil, ""},
		{"missing", []string{"/bin/nope"}, nil, "/", 0, nil, `exec: "/bin/nope": stat /bin/nope: no such file or directory`},
		{"not in PATH", []string{"nope"}, []string{"PATH=/usr/bin:/bin"}, "/", 0, nil, `exec: "nope": executable file not found in $PATH`},
		{"no PATH", []string{"sh"}, nil, "/", 0, nil, `exec: "sh": executable file not found in $PATH`},
		{"the last PATH wins", []string{"busybox"}, []string{"PATH=/bin", "PATH=/opt"}, "/", 0, nil, "executable file not found"},
		{"relative PATH entry", []string{"busybox"}, []string{"PATH=bin"}, "/", 0, nil, "relative to current directory"},
		{"relative args[0] from cwd", []string{"./busybox"}, nil, "/bin", 0, nil, ""},
		{"a directory", []string{"/bin"}, nil, "/", 0, nil, `exec: "/bin": is a directory`},
		{"not the user's", []string{"/bin/secret"}, nil, "/", 1000, nil, `exec: "/bin/secret": permission denied`},
		{"under a mount", []string{"/opt/tool"}, nil, "/", 0, []configs.Mount{{Destination: "/opt", Device: "tmpfs"}}, ""},
		{"not found, a PATH dir under a mount", []string{"tool"}, []string{"PATH=/bin:/data/bin"}, "/", 0, []configs.Mount{{Destination: "/data", Device: "bind"}}, ""},
		{"through a symlink into a mount", []string{"/lib/systemd/systemd"}, nil, "/", 0, []configs.Mount{{Destination: "/usr", Device: "bind"}}, ""},
		{"through a symlink, no mount", []string{"/lib/systemd/systemd"}, nil, "/", 0, nil, "no such file or directory"},
		{"stops at the first PATH dir a mount covers", []string{"tool"}, []string{"PATH=/data:/bin"}, "/", 0, []configs.Mount{{Destination: "/data", Device: "bind"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &configs.Config{Rootfs: rootfs, Mounts: tc.mounts, Process: configs.Process{Args: tc.args, Env: tc.env, Cwd: tc.cwd, UID: tc.uid, GID: tc.uid}}
			if tc.uid != 0 {
				cfg.Process.Capabilities = &configs.Capabilities{}
			}
			var ps problem.List
			checkProgram(cfg, &ps)
			switch {
			case tc.want == "" && len(ps) > 0:
				t.Errorf("problems: %v", ps)
			case tc.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].Error(), tc.want) || ps[0].Path != "process.args[0]" || ps[0].Severity != problem.Error):
				t.Errorf("problems %v, want one error with %q", ps, tc.want)
			}
		})
	}
}

// TestCheckNamespacePaths: a joined namespace must be a namespace file of
// its type.
func TestCheckNamespacePaths(t *testing.T) {
	for _, tc := range []struct {
		typ, path, want string
	}{
		{configs.NEWNET, "/proc/self/ns/net", ""},
		{configs.NEWNET, "/proc/self/ns/uts", `"/proc/self/ns/uts" is a uts namespace, not network`},
		{configs.NEWIPC, "/proc/self/status", "is not a namespace file"},
		{configs.NEWPID, "/nonexistent/ns", "no such file or directory"},
	} {
		var ps problem.List
		checkNamespaces(&configs.Config{Namespaces: []configs.Namespace{{Type: configs.NEWNS}, {Type: tc.typ, Path: tc.path}}}, &ps)
		if tc.want == "" && len(ps) > 0 || tc.want != "" && (len(ps) != 1 || !strings.Contains(ps[0].Error(), tc.want) || ps[0].Path != "linux.namespaces[1].path") {
			t.Errorf("%s %s: %v, want %q", tc.typ, tc.path, ps, tc.want)
		}
	}
}

// TestCheckBindSourceInRootfs: a bind source inside the rootfs may be made
// by an earlier mount: a warning, not an error; outside it, an error.
func TestCheckBindSourceInRootfs(t *testing.T) {
	rootfs := t.TempDir()
	var ps problem.List
	checkMounts(&configs.Config{Rootfs: rootfs, Mounts: []configs.Mount{
		{Source: filepath.Join(rootfs, "later"), Destination: "/a", Device: "bind"},
		{Source: "/nonexistent-ocirun-source", Destination: "/b", Device: "bind"},
		{Source: "/run/ocirun-test/c/notify", Destination: "/run/notify", Device: "bind"}, // the runtime makes it
	}}, "/run/ocirun-test", &ps)
	if len(ps) != 2 || ps[0].Severity != problem.Warning || ps[1].Severity != problem.Error || ps[1].Path != "mounts[1].source" {
		t.Errorf("problems: %v", ps)
	}
}
