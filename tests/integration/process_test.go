package integration

import (
	"slices"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcessDefaults checks what the default config gives the probe.
func TestProcessDefaults(t *testing.T) {
	t.Parallel()
	b := bundle.New(t)
	rep := b.Report(t)
	if rep.Pid != 1 {
		t.Errorf("pid = %d, want 1 in a new pid namespace", rep.Pid)
	}
	if rep.Hostname != "ocirun-test" {
		t.Errorf("hostname = %q, want %q", rep.Hostname, "ocirun-test")
	}
	// CAP_AUDIT_WRITE(29), CAP_KILL(5), CAP_NET_BIND_SERVICE(10).
	const want = "0000000020000420"
	// No CapAmb: the kernel keeps ambient within permitted ∩ inheritable, and
	// the default (like `runc spec`) has an empty inheritable set.
	for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if rep.Caps[set] != want {
			t.Errorf("%s = %s, want %s", set, rep.Caps[set], want)
		}
	}
	if rep.NoNewPrivs != "1" {
		t.Errorf("NoNewPrivs = %q, want 1 (process.noNewPrivileges)", rep.NoNewPrivs)
	}
	if rep.Errors != nil {
		t.Errorf("probe errors: %v", rep.Errors)
	}
	// The runtime must not leak its own fds into the container.
	for fd, target := range rep.FDs {
		if fd > 2 && !strings.HasPrefix(target, "anon_inode:") && !strings.HasPrefix(target, "/sys/fs/cgroup/") {
			t.Errorf("fd %d -> %s leaked into the container", fd, target)
		}
	}
}

// TestProcessSettings covers process.user, env, cwd, umask, rlimits and domainname.
func TestProcessSettings(t *testing.T) {
	t.Parallel()
	umask := uint32(0o027)
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Domainname = "example.test"
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{100, 5}, Umask: &umask}
		s.Process.Env = append(s.Process.Env, "FOO=bar baz", "EMPTY=")
		s.Process.Cwd = "/home/tester"
		// Ambient needs inheritable too; with it a non-root user keeps these caps.
		s.Process.Capabilities.Inheritable = s.Process.Capabilities.Ambient
		// Lowering needs no CAP_SYS_RESOURCE; nofile stays under the host's hard 20000.
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 4096},
			{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
			{Type: "RLIMIT_NPROC", Soft: 300, Hard: 400},
		}
	}))
	rep := b.Report(t)
	// runc added domainname in 1.2; 1.1.x ignores the field.
	if rep.Domainname != "example.test" && !bundle.IsRunc(t) {
		t.Errorf("domainname = %q, want example.test", rep.Domainname)
	}
	if rep.UID != 1000 || rep.EUID != 1000 || rep.GID != 1000 || rep.EGID != 1000 {
		t.Errorf("uid/euid/gid/egid = %d/%d/%d/%d, want 1000 each", rep.UID, rep.EUID, rep.GID, rep.EGID)
	}
	for _, g := range []int{5, 100} {
		if !slices.Contains(rep.Groups, g) {
			t.Errorf("groups = %v, missing additionalGid %d", rep.Groups, g)
		}
	}
	for _, kv := range []string{"FOO=bar baz", "EMPTY=", "TERM=xterm"} {
		if !slices.Contains(rep.Env, kv) {
			t.Errorf("env %v misses %q", rep.Env, kv)
		}
	}
	if rep.Cwd != "/home/tester" {
		t.Errorf("cwd = %q, want /home/tester", rep.Cwd)
	}
	if rep.Umask != "0027" {
		t.Errorf("umask = %q, want 0027", rep.Umask)
	}
	for name, want := range map[string][2]uint64{
		"RLIMIT_NOFILE": {512, 4096},
		"RLIMIT_CORE":   {0, 0},
		"RLIMIT_NPROC":  {300, 400},
	} {
		got := rep.Rlimits[name]
		if got.Soft != want[0] || got.Hard != want[1] {
			t.Errorf("%s = %d/%d, want %d/%d", name, got.Soft, got.Hard, want[0], want[1])
		}
	}
	if rep.Caps["CapEff"] != "0000000020000420" || rep.Caps["CapAmb"] != "0000000020000420" {
		t.Errorf("CapEff/CapAmb = %s/%s, want the ambient set 0000000020000420", rep.Caps["CapEff"], rep.Caps["CapAmb"])
	}
}

// TestRunExitCode checks that foreground `run` returns the process's status, and
// 128+N when a signal killed it.
func TestRunExitCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"exit7", []string{"exit", "7"}, 7},
		{"exit0", []string{"exit", "0"}, 0},
		// Outside a new pid namespace, so the probe is not a PID 1 that ignores
		// signals without a handler.
		{"sigkill", []string{"kill-self", "9"}, 128 + 9},
		{"sigterm", []string{"kill-self", "TERM"}, 128 + 15},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithProbe(tc.args...), bundle.WithSpec(func(s *specs.Spec) {
				s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
					return ns.Type == specs.PIDNamespace
				})
			}))
			r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
			if r.Code != tc.want {
				t.Errorf("exit code %d, want %d\n%v", r.Code, tc.want, r)
			}
			// Without --keep the container is gone once run returns.
			if _, sr, ok := b.State(t); ok {
				t.Errorf("container still exists after run without --keep: %v", sr)
			}
			b.CheckGone(t)
		})
	}
}
