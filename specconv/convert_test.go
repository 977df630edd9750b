package specconv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// newBundle makes a bundle dir with an empty rootfs and returns its path.
func newBundle(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ptr[T any](v T) *T { return &v }

func TestToConfig(t *testing.T) {
	bundle := newBundle(t)
	if err := os.WriteFile(filepath.Join(bundle, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("rootfs", filepath.Join(bundle, "link")); err != nil {
		t.Fatal(err)
	}
	userns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	dropNS := func(s *specs.Spec, typ specs.LinuxNamespaceType) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
	}
	tests := []struct {
		name    string
		mutate  func(*specs.Spec)
		opts    func(*Options)
		wantErr string
		check   func(*testing.T, *configs.Config)
	}{
		{name: "example is valid", check: func(t *testing.T, c *configs.Config) {
			if want := filepath.Join(bundle, "rootfs"); c.Rootfs != want {
				t.Errorf("Rootfs = %q, want %q", c.Rootfs, want)
			}
			if !c.Readonly || c.Hostname != "ocirun" || len(c.Namespaces) != 5 || len(c.Mounts) != 7 {
				t.Errorf("unexpected config: %+v", c)
			}
			if c.Process.Rlimits[0].Type != unix.RLIMIT_NOFILE || !c.Process.NoNewPrivs || !c.Process.Terminal {
				t.Errorf("process = %+v", c.Process)
			}
			// Example's deny-all rule first, then the defaults.
			r := c.Cgroups.Resources.Devices
			if len(r) < 2 || r[0].Allow || r[0].Type != 'a' || r[0].Major != -1 || r[0].Access != "rwm" {
				t.Errorf("device rules = %+v", r)
			}
			if !slices.Contains(r, configs.DeviceRule{Allow: true, Type: 'c', Major: 1, Minor: 3, Access: "rwm"}) ||
				!slices.Contains(r, configs.DeviceRule{Allow: true, Type: 'c', Major: 136, Minor: -1, Access: "rwm"}) {
				t.Errorf("default rules missing: %+v", r)
			}
		}},
		{name: "absolute root path and symlink resolved", mutate: func(s *specs.Spec) { s.Root.Path = filepath.Join(bundle, "link") + "/" },
			check: func(t *testing.T, c *configs.Config) {
				if want := filepath.Join(bundle, "rootfs"); c.Rootfs != want {
					t.Errorf("Rootfs = %q, want %q", c.Rootfs, want)
				}
			}},
		{name: "ociVersion old 1.x", mutate: func(s *specs.Spec) { s.Version = "1.0.2-dev" }},
		{name: "ociVersion 2.x", mutate: func(s *specs.Spec) { s.Version = "2.0.0" }, wantErr: `ociVersion: major version must be 1, got "2.0.0"`},
		{name: "ociVersion garbage", mutate: func(s *specs.Spec) { s.Version = "1.0" }, wantErr: `ociVersion: must be a semantic version`},
		{name: "ociVersion empty", mutate: func(s *specs.Spec) { s.Version = "" }, wantErr: `ociVersion: must be a semantic version`},
		{name: "root missing", mutate: func(s *specs.Spec) { s.Root = nil }, wantErr: "root: required"},
		{name: "root path empty", mutate: func(s *specs.Spec) { s.Root.Path = "" }, wantErr: "root.path: required"},
		{name: "root path absent", mutate: func(s *specs.Spec) { s.Root.Path = "nope" }, wantErr: "root.path: stat " + filepath.Join(bundle, "nope") + ": no such file or directory"},
		{name: "root path a file", mutate: func(s *specs.Spec) { s.Root.Path = "file" }, wantErr: "is not a directory"},
		{name: "bundle relative", opts: func(o *Options) { o.Bundle = "b" }, wantErr: `bundle: must be an absolute path, got "b"`},
		{name: "bad id", opts: func(o *Options) { o.ID = "../x" }, wantErr: "container id: invalid character"},
		{name: "process missing", mutate: func(s *specs.Spec) { s.Process = nil }, wantErr: "process: required by create"},
		{name: "args empty", mutate: func(s *specs.Spec) { s.Process.Args = nil }, wantErr: "process.args: must not be empty"},
		{name: "cwd relative", mutate: func(s *specs.Spec) { s.Process.Cwd = "tmp" }, wantErr: `process.cwd: must be an absolute path, got "tmp"`},
		{name: "env without =", mutate: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") }, wantErr: `process.env[2]: must be KEY=value, got "FOO"`},
		{name: "username", mutate: func(s *specs.Spec) { s.Process.User.Username = "bob" }, wantErr: `process.user.username: windows only`},
		{name: "commandLine", mutate: func(s *specs.Spec) { s.Process.CommandLine = "sh" }, wantErr: `process.commandLine: windows only`},
		{name: "console size with terminal", mutate: func(s *specs.Spec) { s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80} },
			check: func(t *testing.T, c *configs.Config) {
				if c.Process.ConsoleHeight != 24 || c.Process.ConsoleWidth != 80 {
					t.Errorf("console = %dx%d", c.Process.ConsoleWidth, c.Process.ConsoleHeight)
				}
			}},
		{name: "console size ignored without terminal", mutate: func(s *specs.Spec) {
			s.Process.Terminal = false
			s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
		}, check: func(t *testing.T, c *configs.Config) {
			if c.Process.ConsoleHeight != 0 || c.Process.Terminal {
				t.Errorf("console size kept without terminal: %+v", c.Process)
			}
		}},
		{name: "user fields carried", mutate: func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1001, Umask: ptr(uint32(0o027)), AdditionalGids: []uint32{5, 6}}
			s.Process.OOMScoreAdj = ptr(-500)
			s.Process.ApparmorProfile = "prof"
			s.Process.SelinuxLabel = "system_u:system_r:container_t:s0"
		}, check: func(t *testing.T, c *configs.Config) {
			p := c.Process
			if p.UID != 1000 || p.GID != 1001 || *p.Umask != 0o027 || !slices.Equal(p.AdditionalGids, []uint32{5, 6}) ||
				*p.OOMScoreAdj != -500 || p.ApparmorProfile != "prof" || p.SelinuxLabel == "" {
				t.Errorf("process = %+v", p)
			}
		}},
		{name: "umask too big", mutate: func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o1000)) }, wantErr: "process.user.umask: must be at most 0777"},
		{name: "oomScoreAdj range", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(1001) }, wantErr: "process.oomScoreAdj: must be in [-1000, 1000], got 1001"},
		{name: "rlimit unknown", mutate: func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_FOO" }, wantErr: `process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"`},
		{name: "rlimit soft > hard", mutate: func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 }, wantErr: "process.rlimits[0]: soft limit 2048 exceeds hard limit 1024"},
		{name: "rlimit duplicate", mutate: func(s *specs.Spec) { s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0]) }, wantErr: `process.rlimits[1].type: "RLIMIT_NOFILE" already set`},
		// runtime-spec 1.3: an unknown capability is logged and ignored
		// where the sets are built (libcontainer/capabilities), not refused.
		{name: "capability unknown", mutate: func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FOO")
		}, check: func(t *testing.T, c *configs.Config) {
			if b := c.Process.Capabilities.Bounding; len(b) != 4 || b[3] != "CAP_FOO" {
				t.Errorf("bounding = %q, want CAP_FOO passed on", b)
			}
		}},
		{name: "capability unknown in ambient", mutate: func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"cap_kill"} }, check: func(t *testing.T, c *configs.Config) {
			if a := c.Process.Capabilities.Ambient; len(a) != 1 || a[0] != "cap_kill" {
				t.Errorf("ambient = %q, want cap_kill passed on", a)
			}
		}},
		{name: "capability with NUL", mutate: func(s *specs.Spec) { s.Process.Capabilities.Effective = []string{"CAP_KILL\x00"} },
			wantErr: `process.capabilities.effective[0]`},
		{name: "newest capabilities", mutate: func(s *specs.Spec) {
			s.Process.Capabilities.Permitted = []string{"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}
		}, check: func(t *testing.T, c *configs.Config) {
			if len(c.Process.Capabilities.Permitted) != 3 {
				t.Errorf("caps = %+v", c.Process.Capabilities)
			}
		}},
		{name: "namespace unknown", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
		},
			wantErr: `linux.namespaces[5].type: unknown namespace "foo"`},
		{name: "namespace duplicate", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		},
			wantErr: `linux.namespaces[5]: duplicate "pid" namespace`},
		{name: "namespace path relative", mutate: func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "proc/1/ns/net" },
			wantErr: `linux.namespaces[1].path: must be an absolute path, got "proc/1/ns/net"`},
		{name: "namespace joined", mutate: func(s *specs.Spec) { s.Linux.Namespaces[1].Path = "/proc/1/ns/net" },
			check: func(t *testing.T, c *configs.Config) {
				if ns, _ := c.Namespace(configs.NEWNET); ns.Path != "/proc/1/ns/net" {
					t.Errorf("net ns = %+v", ns)
				}
			}},
		{name: "mount namespace required", mutate: func(s *specs.Spec) { dropNS(s, "mount") }, wantErr: "linux.namespaces: a mount namespace is required"},
		{name: "linux missing", mutate: func(s *specs.Spec) { s.Linux = nil }, wantErr: "linux: required"},
		{name: "user namespace with maps", mutate: userns, check: func(t *testing.T, c *configs.Config) {
			if len(c.UIDMappings) != 1 || c.UIDMappings[0].HostID != 100000 || c.GIDMappings[0].Size != 65536 {
				t.Errorf("maps = %+v %+v", c.UIDMappings, c.GIDMappings)
			}
		}},
		{name: "user namespace without maps", mutate: func(s *specs.Spec) {
			userns(s)
			s.Linux.UIDMappings = nil
		}, wantErr: "linux.uidMappings: user namespaces enabled, but no uid/gid mappings found"},
		{name: "user namespace without gid maps", mutate: func(s *specs.Spec) {
			userns(s)
			s.Linux.GIDMappings = nil
		}, wantErr: "linux.gidMappings: user namespaces enabled, but no uid/gid mappings found"},
		{name: "joined user namespace needs no maps", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
		}},
		{name: "maps without user namespace", mutate: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{Size: 1}}
		}, wantErr: "linux.uidMappings: set, but linux.namespaces has no user namespace"},
		{name: "map size zero", mutate: func(s *specs.Spec) {
			userns(s)
			s.Linux.GIDMappings[0].Size = 0
		}, wantErr: "linux.gidMappings[0].size: must be > 0"},
		{name: "map overflow", mutate: func(s *specs.Spec) {
			userns(s)
			s.Linux.UIDMappings[0].HostID = 1<<32 - 10
		}, wantErr: "linux.uidMappings[0]: range"},
		{name: "time offsets", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}, "boottime": {Secs: -5, Nanosecs: 7}}
		}, check: func(t *testing.T, c *configs.Config) {
			if c.TimeOffsets["boottime"] != (configs.TimeOffset{Secs: -5, Nanosecs: 7}) || c.TimeOffsets["monotonic"].Secs != 10 {
				t.Errorf("offsets = %+v", c.TimeOffsets)
			}
		}},
		{name: "time offsets need time ns", mutate: func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, wantErr: "linux.timeOffsets: requires a new time namespace"},
		{name: "time offsets need new time ns", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time", Path: "/proc/1/ns/time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, wantErr: "linux.timeOffsets: requires a new time namespace"},
		{name: "time offsets bad clock", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 10}}
		}, wantErr: `linux.timeOffsets: unknown clock "realtime"`},
		{name: "hostname needs uts", mutate: func(s *specs.Spec) { dropNS(s, "uts") }, wantErr: `hostname: "ocirun" requires a uts namespace`},
		{name: "domainname needs uts", mutate: func(s *specs.Spec) {
			dropNS(s, "uts")
			s.Hostname = ""
			s.Domainname = "example.org"
		}, wantErr: `domainname: "example.org" requires a uts namespace`},
		{name: "hostname with joined uts", mutate: func(s *specs.Spec) { s.Linux.Namespaces[3].Path = "/proc/1/ns/uts" }},
		{name: "mount destination relative", mutate: func(s *specs.Spec) { s.Mounts[3].Destination = "dev/shm" },
			wantErr: `mounts[3].destination: must be an absolute path, got "dev/shm"`},
		{name: "mount idmap without user namespace", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "idmap"}})
		}, wantErr: `mounts[7].options: idmap without uidMappings and gidMappings takes the container's user namespace's, and linux.namespaces has no user namespace`},
		{name: "mount idmap with the container's user namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 100000, Size: 65536}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "ridmap"}})
		}, check: func(t *testing.T, c *configs.Config) {
			if m := c.Mounts[7]; !m.IDMapped || !m.IDMapRecursive || m.UIDMappings != nil {
				t.Errorf("mount = %+v, want idmapped recursively with the container's maps", m)
			}
		}},
		{name: "mount uidMappings without gidMappings", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind"}, UIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, wantErr: "mounts[7].gidMappings: required with uidMappings"},
		{name: "mount mappings make it idmapped", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind"},
				UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}})
		}, check: func(t *testing.T, c *configs.Config) {
			if m := c.Mounts[7]; !m.IDMapped || m.IDMapRecursive || len(m.UIDMappings) != 1 || m.GIDMappings[0].HostID != 1000 {
				t.Errorf("mount = %+v, want idmapped with its own maps", m)
			}
		}},
		{name: "mount mappings with a zero size", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind", "idmap"},
				UIDMappings: []specs.LinuxIDMapping{{Size: 0}}, GIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, wantErr: "mounts[7].uidMappings[0].size: must be > 0"},
		{name: "idmap on a tmpfs", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"},
				UIDMappings: []specs.LinuxIDMapping{{Size: 1}}, GIDMappings: []specs.LinuxIDMapping{{Size: 1}}})
		}, wantErr: `mounts[7].options: an idmapped mount must be a bind mount, "tmpfs" is not`},
		{name: "mount without type", mutate: func(s *specs.Spec) { s.Mounts[0].Type = "" }, wantErr: "mounts[0].type: required unless the mount is a bind mount"},
		{name: "bind mount relative source", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data/", Type: "none", Source: "data", Options: []string{"rbind", "ro", "rprivate"}})
		}, check: func(t *testing.T, c *configs.Config) {
			m := c.Mounts[7]
			if m.Device != "bind" || m.Source != filepath.Join(bundle, "data") || m.Destination != "/data" ||
				m.Flags != unix.MS_BIND|unix.MS_REC|unix.MS_RDONLY || !slices.Equal(m.PropagationFlags, []int{unix.MS_PRIVATE | unix.MS_REC}) {
				t.Errorf("mount = %+v", m)
			}
		}},
		{name: "bind type without option", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv"})
		}, check: func(t *testing.T, c *configs.Config) {
			if m := c.Mounts[7]; !m.IsBind() || m.Flags&unix.MS_BIND == 0 {
				t.Errorf("mount = %+v", m)
			}
		}},
		{name: "bind mount without source", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind"})
		}, wantErr: "mounts[7].source: required for a bind mount"},
		{name: "mount data kept", check: func(t *testing.T, c *configs.Config) {
			m := c.Mounts[2] // devpts
			if m.Data != "newinstance,ptmxmode=0666,mode=0620,gid=5" || m.Flags != unix.MS_NOSUID|unix.MS_NOEXEC {
				t.Errorf("devpts = %+v", m)
			}
		}},
		{name: "devices", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
				{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0, FileMode: ptr(os.FileMode(0o20640)), UID: ptr(uint32(1)), GID: ptr(uint32(6))},
				{Path: "/dev/fifo", Type: "p"},
				{Path: "/dev/null", Type: "u", Major: 1, Minor: 3},
			}
		}, check: func(t *testing.T, c *configs.Config) {
			want := []configs.Device{
				{Type: 'c', Path: "/dev/fuse", Major: 10, Minor: 229, FileMode: 0o666},
				{Type: 'b', Path: "/dev/sda", Major: 8, Minor: 0, FileMode: 0o640, UID: 1, GID: 6},
				{Type: 'p', Path: "/dev/fifo", FileMode: 0o666},
				{Type: 'c', Path: "/dev/null", Major: 1, Minor: 3, FileMode: 0o666},
			}
			if !slices.Equal(c.Devices, want) {
				t.Errorf("devices = %+v", c.Devices)
			}
			// The nodes get no rule: the config's allowlist decides, as in
			// runc. /dev/null replaces the default node and its rule.
			for _, r := range c.Cgroups.Resources.Devices {
				if r.Allow && (r.Major == 10 || r.Major == 8 || r.Major == 1 && r.Minor == 3) {
					t.Errorf("rule %+v for a node of linux.devices", r)
				}
			}
		}},
		{name: "device bad type", mutate: func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "x"}} },
			wantErr: `linux.devices[0].type: unknown device type "x"`},
		{name: "device relative path", mutate: func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}} },
			wantErr: `linux.devices[0].path: must be an absolute path, got "dev/x"`},
		{name: "device duplicate", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c"}, {Path: "/dev/x", Type: "b"}}
		}, wantErr: `linux.devices[1].path: "/dev/x" already used by linux.devices[0]`},
		{name: "resources", mutate: func(s *specs.Spec) {
			s.Linux.CgroupsPath = "/ocirun/test"
			s.Linux.Resources = &specs.LinuxResources{
				Devices:        []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(int64(10)), Access: "rw"}},
				Memory:         &specs.LinuxMemory{Limit: ptr(int64(1 << 20)), Swappiness: ptr(uint64(10))},
				CPU:            &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Cpus: "0"},
				Pids:           &specs.LinuxPids{Limit: ptr(int64(64))},
				BlockIO:        &specs.LinuxBlockIO{Weight: ptr(uint16(100)), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}, Rate: 1000}}},
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
				Network:        &specs.LinuxNetwork{ClassID: ptr(uint32(7)), Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 2}}},
				Rdma:           map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr(uint32(3))}},
				Unified:        map[string]string{"memory.high": "1M"},
			}
		}, check: func(t *testing.T, c *configs.Config) {
			r := c.Cgroups.Resources
			if c.Cgroups.Path != "/ocirun/test" || r.Devices[0] != (configs.DeviceRule{Allow: true, Type: 'c', Major: 10, Minor: -1, Access: "rw"}) ||
				*r.Memory.Limit != 1<<20 || *r.Memory.Swappiness != 10 || *r.CPU.Shares != 512 || *r.CPU.Quota != 50000 || r.CPU.Cpus != "0" ||
				r.Pids.Limit != 64 || *r.BlockIO.Weight != 100 || r.BlockIO.ThrottleReadBpsDevice[0].Rate != 1000 ||
				r.HugepageLimits[0].Pagesize != "2MB" || *r.Network.ClassID != 7 || r.Network.Priorities[0].Name != "lo" ||
				*r.Rdma["mlx5_0"].HcaHandles != 3 || r.Unified["memory.high"] != "1M" {
				t.Errorf("resources = %+v", r)
			}
		}},
		{name: "device rule bad type", mutate: func(s *specs.Spec) { s.Linux.Resources.Devices[0].Type = "p" },
			wantErr: `linux.resources.devices[0].type: unknown device type "p"`},
		{name: "device rule bad access", mutate: func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "rwx" },
			wantErr: `linux.resources.devices[0].access: must be a subset of "rwm", got "rwx"`},
		{name: "device rule empty access", mutate: func(s *specs.Spec) { s.Linux.Resources.Devices[0].Access = "" },
			wantErr: `linux.resources.devices[0].access: must not be empty`},
		{name: "hugepage size", mutate: func(s *specs.Spec) {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "../2MB"}}
		}, wantErr: `linux.resources.hugepageLimits[0].pageSize`},
		{name: "unified key with slash", mutate: func(s *specs.Spec) { s.Linux.Resources.Unified = map[string]string{"../x": "1"} },
			wantErr: `linux.resources.unified: invalid file name "../x"`},
		{name: "rootfs propagation", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" },
			check: func(t *testing.T, c *configs.Config) {
				if c.RootPropagation != unix.MS_SHARED|unix.MS_REC {
					t.Errorf("RootPropagation = %#x", c.RootPropagation)
				}
			}},
		{name: "rootfs propagation unknown", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rfoo" },
			wantErr: `linux.rootfsPropagation: unknown mode "rfoo"`},
		{name: "rootfs propagation private without pivot", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" },
			opts: func(o *Options) { o.NoPivot = true }, wantErr: `linux.rootfsPropagation: "rprivate" is not safe without pivot_root`},
		{name: "masked path relative", mutate: func(s *specs.Spec) { s.Linux.MaskedPaths[2] = "proc/kcore" },
			wantErr: `linux.maskedPaths[2]: must be an absolute path, got "proc/kcore"`},
		{name: "readonly path relative", mutate: func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "proc/bus" },
			wantErr: `linux.readonlyPaths[0]: must be an absolute path, got "proc/bus"`},
		{name: "sysctl namespaced", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1", "fs.mqueue.msg_max": "2", "net.ipv4.ip_forward": "1", "net/ipv4/conf/eth0.100/rp_filter": "0", "kernel.domainname": "x"}
		}, check: func(t *testing.T, c *configs.Config) {
			if len(c.Sysctl) != 5 {
				t.Errorf("sysctl = %v", c.Sysctl)
			}
		}},
		{name: "sysctl not namespaced", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.foo": "1"} },
			wantErr: `linux.sysctl: "vm.foo" is not in a separate kernel namespace`},
		{name: "sysctl ipc without ipc ns", mutate: func(s *specs.Spec) {
			dropNS(s, "ipc")
			s.Linux.Sysctl = map[string]string{"kernel.msgmax": "1"}
		}, wantErr: `linux.sysctl: "kernel.msgmax" requires an ipc namespace`},
		{name: "sysctl net without net ns", mutate: func(s *specs.Spec) {
			dropNS(s, "network")
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1"}
		}, wantErr: `linux.sysctl: "net.core.somaxconn" requires a network namespace`},
		{name: "sysctl net with joined net ns", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/var/run/netns/x"
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1"}
		}},
		{name: "sysctl hostname conflicts", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"} },
			wantErr: `linux.sysctl: "kernel.hostname" conflicts with hostname "ocirun"`},
		{name: "sysctl domainname without uts", mutate: func(s *specs.Spec) {
			dropNS(s, "uts")
			s.Hostname = ""
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
		}, wantErr: `linux.sysctl: "kernel.domainname" requires a uts namespace`},
		{name: "hooks", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{
				CreateRuntime: []specs.Hook{{Path: "/bin/true", Args: []string{"true"}, Timeout: ptr(5)}},
				Poststop:      []specs.Hook{{Path: "/bin/false"}},
			}
		}, check: func(t *testing.T, c *configs.Config) {
			h := c.Hooks
			if len(h.CreateRuntime) != 1 || *h.CreateRuntime[0].Timeout != 5 || h.Poststop[0].Path != "/bin/false" {
				t.Errorf("hooks = %+v", h)
			}
		}},
		{name: "hook relative path", mutate: func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "true"}}} },
			wantErr: `hooks.poststart[0].path: must be an absolute path, got "true"`},
		{name: "hook zero timeout", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}, {Path: "/bin/true", Timeout: ptr(0)}}}
		}, wantErr: `hooks.startContainer[1].timeout: must be > 0, got 0`},
		{name: "seccomp", mutate: func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"} }, wantErr: `linux.seccomp.defaultAction: unknown action "SCMP_ACT_BOGUS"`},
		{name: "intelRdt", mutate: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{} }, wantErr: "linux.intelRdt: not supported yet"},
		{name: "netDevices", mutate: func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth1": {}} }, wantErr: "linux.netDevices: not supported yet"},
		{name: "windows", mutate: func(s *specs.Spec) { s.Windows = &specs.Windows{} }, wantErr: "windows: not supported yet"},
		{name: "solaris", mutate: func(s *specs.Spec) { s.Solaris = &specs.Solaris{} }, wantErr: "solaris: not supported yet"},
		{name: "vm", mutate: func(s *specs.Spec) { s.VM = &specs.VM{} }, wantErr: "vm: not supported yet"},
		{name: "zos", mutate: func(s *specs.Spec) { s.ZOS = &specs.ZOS{} }, wantErr: "zos: not supported yet"},
		{name: "annotations copied", mutate: func(s *specs.Spec) { s.Annotations = map[string]string{"a": "b"} },
			check: func(t *testing.T, c *configs.Config) {
				if c.Annotations["a"] != "b" {
					t.Errorf("annotations = %v", c.Annotations)
				}
			}},
		{name: "rootless example", mutate: ToRootless, opts: func(o *Options) { o.Rootless = true }, check: func(t *testing.T, c *configs.Config) {
			if c.HasNamespace(configs.NEWNET) || !c.HasNamespace(configs.NEWUSER) || len(c.UIDMappings) != 1 {
				t.Errorf("rootless config = %+v", c)
			}
		}},
		{name: "rootless needs user ns", opts: func(o *Options) { o.Rootless = true }, wantErr: "linux.namespaces: rootless containers require a user namespace"},
		{name: "rootless unmapped gid option", mutate: func(s *specs.Spec) {
			ToRootless(s)
			s.Mounts[2].Options = append(s.Mounts[2].Options, "gid=5")
		}, opts: func(o *Options) { o.Rootless = true }, wantErr: "mounts[2].options: gid=5 is not mapped in the rootless user namespace"},
		{name: "rootless idmapped mount", mutate: func(s *specs.Spec) {
			ToRootless(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "idmap"}})
		}, opts: func(o *Options) { o.Rootless = true }, wantErr: "mounts[7].options: an idmapped mount needs root on the host, and ocirun runs rootless"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := Example()
			if tc.mutate != nil {
				tc.mutate(spec)
			}
			opts := Options{ID: "test", Bundle: bundle}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c, err := ToConfig(spec, opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestToConfigDoesNotAlias checks the config owns its data: the spec may be
// reused (e.g. by exec) after conversion.
func TestToConfigDoesNotAlias(t *testing.T) {
	spec := Example()
	spec.Process.OOMScoreAdj = ptr(5)
	c, err := ToConfig(spec, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	spec.Process.Args[0] = "changed"
	*spec.Process.OOMScoreAdj = 6
	spec.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	if c.Process.Args[0] != "sh" || *c.Process.OOMScoreAdj != 5 || c.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" {
		t.Errorf("config aliases the spec: %+v", c.Process)
	}
}
