package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSecurityCVE2021_43784_LongValues: CVE-2021-43784: a value longer than 64
// KiB overflowed a uint16 length in runc's bootstrap message. Every such value
// is rejected with an error or handled; the runtime never crashes and leaves
// nothing behind (the bundle's cleanup checks state dir, cgroup and processes).
func TestSecurityCVE2021_43784_LongValues(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 70*1024)
	cases := []struct {
		name     string
		edit     func(*specs.Spec)
		mustFail bool
	}{
		{"namespace path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces[:1:1], specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/" + long})
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace},
				specs.LinuxNamespace{Type: specs.UTSNamespace}, specs.LinuxNamespace{Type: specs.MountNamespace})
		}, true},
		{"namespace path of 35K dot components", func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/proc/self/ns/net" + strings.Repeat("/.", 35*1024)
		}, true},
		{"annotation", func(s *specs.Spec) {
			s.Annotations = map[string]string{"org.example.long": long, strings.Repeat("k", 70*1024): "v"}
		}, false},
		{"uid map", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			// 7000 one-id ranges: about 100 KiB of map text, far over the
			// kernel's 340 lines.
			for i := uint32(0); i < 7000; i++ {
				s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: i, HostID: 100000 + i, Size: 1})
			}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, true},
		{"hostname", func(s *specs.Spec) { s.Hostname = long }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithSpec(tc.edit), bundle.WithProbe("exit", "0"))
			r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			if tc.mustFail && r.Code == 0 {
				t.Errorf("run with a >64 KiB %s succeeded", tc.name)
			}
			if len(r.Stderr) > 300 {
				r.Stderr = r.Stderr[:300] + "..."
			}
			if r.Code != 0 {
				t.Logf("run refused the long %s: %s", tc.name, strings.TrimSpace(r.Stderr))
			}
			b.CheckGone(t)
		})
	}
}

// statusField returns the value of one "Name:\tvalue" line of /proc/PID/status text.
func statusField(status, name string) (string, bool) {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// TestSecurityCVE2022_29162_NoInheritableCaps: CVE-2022-29162 (crun
// CVE-2022-27650): `exec --cap` must not put the capability in the inheritable
// set, and the `spec` template has none.
func TestSecurityCVE2022_29162_NoInheritableCaps(t *testing.T) {
	t.Parallel()
	t.Run("exec --cap", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "30"))
		b.RunDetached(t)
		r := b.MustRun(t, "exec", "-u", "1000", "--cap", "CAP_NET_ADMIN", b.ID, "cat", "/proc/self/status")
		for _, f := range []string{"CapInh", "CapAmb"} {
			v, ok := statusField(r.Stdout, f)
			if !ok || v != "0000000000000000" {
				t.Errorf("%s = %q, want 0000000000000000", f, v)
			}
		}
		if v, _ := statusField(r.Stdout, "Uid"); !strings.HasPrefix(v, "1000\t") {
			t.Errorf("Uid = %q, want 1000", v)
		}
		// CAP_NET_ADMIN is bit 12: the flag did add it where it belongs.
		if v, _ := statusField(r.Stdout, "CapBnd"); !capHas(t, v, 12) {
			t.Errorf("CapBnd = %s lacks CAP_NET_ADMIN", v)
		}
	})
	t.Run("spec", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cmd := exec.Command(bundle.Runtime(t), "spec", "--bundle", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("spec: %v\n%s", err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		if s.Process == nil || s.Process.Capabilities == nil {
			t.Fatalf("spec has no process.capabilities")
		}
		if inh := s.Process.Capabilities.Inheritable; len(inh) != 0 {
			t.Errorf("spec: process.capabilities.inheritable = %v, want none", inh)
		}
	})
}

func capHas(t *testing.T, hex string, bit uint) bool {
	t.Helper()
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		t.Errorf("capability mask %q: %v", hex, err)
		return false
	}
	return v&(1<<bit) != 0
}

// TestSecurityCVE2023_25809_RootlessCgroupBind: CVE-2023-25809: a rootless
// container without a cgroup namespace may not mount cgroupfs, and runc's
// fallback, a bind of the host's /sys/fs/cgroup, was writable. Run by an
// unprivileged user with `spec --rootless` (no cgroup namespace, /sys bound
// "rbind,ro"), with its cgroup mount, with it asked read-write (the container
// has no cgroup of its own: what it would see is the runtime's, maybe the
// user's session's), and without one (the host's hierarchies then show through
// the /sys bind): /sys/fs/cgroup and every mount under it are read-only, and
// writing there fails with EROFS.
func TestSecurityCVE2023_25809_RootlessCgroupBind(t *testing.T) {
	t.Parallel()
	u := newRootlessUser(t)
	for _, cgMount := range []string{"ro", "rw", "none"} {
		t.Run("cgroup-mount="+cgMount, func(t *testing.T) {
			t.Parallel()
			if bundle.IsRunc(t) {
				// Seen here: the /sys/fs/cgroup tmpfs and every hierarchy below it
				// rw with the cgroup mount, the hierarchies rw through the /sys
				// bind without it (mount(2) makes only the top of an rbind ro).
				t.Skip("runc 1.1.5 is vulnerable to CVE-2023-25809 on this kernel: rootless, /sys/fs/cgroup is writable")
			}
			// Without a cgroup namespace the container sees the host's whole
			// tree, where other tests' cgroups come and go: a directory removed
			// between the glob and the write answers ENOENT, and is left out.
			script := `/bin/probe write /sys/fs/cgroup/ocirun-cve x; for d in /sys/fs/cgroup/*/; do [ -d "$d" ] || continue; e=$(/bin/probe write "$d"ocirun-cve x); [ "$e" = ENOENT ] && [ ! -d "$d" ] && continue; echo "$e"; done; exec /bin/probe report`
			b := rootlessBundle(t, u, []string{"/bin/sh", "-c", script}, func(s *specs.Spec) {
				for _, ns := range s.Linux.Namespaces {
					if ns.Type == specs.CgroupNamespace {
						t.Fatalf("spec --rootless has a cgroup namespace: the case needs none")
					}
				}
				var ms []specs.Mount
				for _, m := range s.Mounts {
					switch {
					case m.Destination != "/sys/fs/cgroup":
					case cgMount == "none":
						continue
					case cgMount == "rw":
						// Asked for: the container has no cgroup of its own to write.
						m.Options = []string{"nosuid", "noexec", "nodev", "relatime", "rw"}
					}
					ms = append(ms, m)
				}
				s.Mounts = ms
			})
			r := u.run(t, b, "run", "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			if r.Code != 0 {
				t.Fatalf("run as %s: %v", u.Name, r)
			}
			head, _, _ := strings.Cut(r.Stdout, "{")
			for _, line := range strings.Fields(head) {
				if line != "EROFS" {
					t.Errorf("a write under /sys/fs/cgroup gave %q, want EROFS (all: %q)", line, head)
				}
			}
			if !strings.Contains(head, "EROFS") {
				t.Errorf("no write under /sys/fs/cgroup was tried: %q", head)
			}
			rep := bundle.ParseReport(t, r.Stdout)
			for _, m := range rep.Mounts {
				if (m.Mountpoint == "/sys/fs/cgroup" || strings.HasPrefix(m.Mountpoint, "/sys/fs/cgroup/")) && !m.HasOption("ro") {
					t.Errorf("%s (%s) is mounted read-write: %s", m.Mountpoint, m.FSType, m.Options)
				}
			}
		})
	}
}

// TestSecurityCrun2026_30892_ExecUser: crun CVE-2026-30892: `exec -u 1` ran as
// uid 0. The user flag is uid[:gid]; anything else is an error.
func TestSecurityCrun2026_30892_ExecUser(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "30"))
	b.RunDetached(t)
	for _, tc := range []struct {
		user     string
		uid, gid int
	}{{"1", 1, 0}, {"1:2", 1, 2}, {"0", 0, 0}, {"1000:1000", 1000, 1000}} {
		r := b.MustRun(t, "exec", "-u", tc.user, b.ID, bundle.ProbePath, "report")
		rep := bundle.ParseReport(t, r.Stdout)
		if rep.UID != tc.uid || rep.EUID != tc.uid || rep.GID != tc.gid || rep.EGID != tc.gid {
			t.Errorf("exec -u %s: uid %d euid %d gid %d egid %d, want uid %d gid %d",
				tc.user, rep.UID, rep.EUID, rep.GID, rep.EGID, tc.uid, tc.gid)
		}
	}
	for _, bad := range []string{"abc", "1:", ":2", "1:2:3", "-1", "4294967296", "1:x", " 1", "0x1"} {
		r := b.Run(t, "exec", "-u", bad, b.ID, bundle.ProbePath, "exit", "0")
		assertNoCrash(t, r)
		if r.Code == 0 {
			if bad == "4294967296" && bundle.IsRunc(t) {
				// runc 1.1.5 parses with Atoi and truncates to uint32: uid 0.
				t.Logf("exec -u %q succeeded on runc (known: it wraps to uid 0)", bad)
				continue
			}
			t.Errorf("exec -u %q succeeded, want an error", bad)
		}
	}
}
