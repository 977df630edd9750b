package specconv

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/problem"
)

// TestValidateReportsEveryProblem: one pass finds each of many independent
// problems, each with its path, value and hint; the first is ToConfig's
// error.
func TestValidateReportsEveryProblem(t *testing.T) {
	bundle := newBundle(t)
	spec := Example()
	spec.Version = "2.0.0"
	spec.Process.Cwd = "tmp"
	spec.Process.Env = append(spec.Process.Env, "NOEQUALS")
	spec.Process.Rlimits[0].Type = "RLIMIT_BOGUS"
	spec.Process.Capabilities.Bounding = append(spec.Process.Capabilities.Bounding, "CAP_BOGUS")
	spec.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_BOGUS"}
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"}, specs.LinuxNamespace{Type: "pid"})
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "rel", Type: "tmpfs"},
		specs.Mount{Destination: "/notype"},
		specs.Mount{Destination: "/idmap", Type: "bind", Source: "/x", Options: []string{"idmap"}})
	spec.Linux.Sysctl = map[string]string{"vm.bogus": "1"}
	spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "x"}}
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Access: "rwx"})
	spec.Linux.MaskedPaths = append(spec.Linux.MaskedPaths, "rel")
	spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS", Flags: []specs.LinuxSeccompFlag{"BOGUS"}}
	spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "rel"}}}
	spec.Hostname = strings.Repeat("h", 100)

	_, ps := Validate(spec, Options{ID: "../bad", Bundle: bundle})
	want := []string{
		"container id", "ociVersion", "process.cwd", "process.env[2]", "process.rlimits[0].type",
		"process.capabilities.bounding[3]", "linux.seccomp.defaultAction", "linux.seccomp.flags[0]",
		"process.scheduler.policy", "linux.namespaces[5].type", "linux.namespaces[6]", "hostname",
		"mounts[7].destination", "mounts[8].type", "mounts[9].options", "linux.maskedPaths[10]",
		"linux.sysctl", "linux.devices[0].type", "linux.resources.devices[1].access", "hooks.poststop[0].path",
	}
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
		// An unknown capability is ignored with a warning (runtime-spec 1.3).
		want := problem.Error
		if p.Path == "process.capabilities.bounding[3]" {
			want = problem.Warning
		}
		if p.Hint == "" || p.Problem == "" || p.Severity != want {
			t.Errorf("problem without hint or text, or of severity %q: %+v", want, p)
		}
		if !strings.HasPrefix(p.Error(), p.Path+": ") {
			t.Errorf("%q does not start with its path %q", p.Error(), p.Path)
		}
	}
	for _, w := range want {
		if !slices.Contains(paths, w) {
			t.Errorf("no problem at %s; found %q", w, paths)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d: %q", len(ps), len(want), paths)
	}
	_, err := ToConfig(spec, Options{ID: "../bad", Bundle: bundle})
	if err == nil || err.Error() != ps[0].Error() {
		t.Errorf("ToConfig: %v, want Validate's first problem %v", err, ps[0])
	}
}

// TestValidateValues: a problem carries the bad value, and a long one is
// cut in the message and the value alike.
func TestValidateValues(t *testing.T) {
	spec := Example()
	spec.Process.Cwd = "/" + strings.Repeat("d", 5000)
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
	_, ps := Validate(spec, Options{Bundle: newBundle(t)})
	if len(ps) != 2 {
		t.Fatalf("problems: %v", ps)
	}
	cwd := ps[0]
	if cwd.Path != "process.cwd" || len(cwd.Error()) > 300 || !strings.Contains(cwd.Error(), "(5001 bytes)") {
		t.Errorf("long cwd: %q", cwd.Error())
	}
	if v, _ := cwd.Value.(string); len(v) > 200 || !strings.HasSuffix(v, "... (5001 bytes)") {
		t.Errorf("long value not cut: %d bytes", len(v))
	}
	if ps[1].Value != "bogus" {
		t.Errorf("value = %#v, want \"bogus\"", ps[1].Value)
	}
}

// TestValidateNoProblems: the example has none, and the config is ToConfig's.
func TestValidateNoProblems(t *testing.T) {
	bundle := newBundle(t)
	c, ps := Validate(Example(), Options{ID: "ok", Bundle: bundle})
	if len(ps) != 0 || ps.Err() != nil {
		t.Fatalf("problems in the example: %v", ps)
	}
	c2, err := ToConfig(Example(), Options{ID: "ok", Bundle: bundle})
	if err != nil || c.Rootfs != c2.Rootfs || len(c.Mounts) != len(c2.Mounts) {
		t.Errorf("Validate and ToConfig differ: %v", err)
	}
}
