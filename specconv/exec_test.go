package specconv

import (
	"reflect"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestExecAttrs(t *testing.T) {
	one := []configs.Range{{First: 1, Last: 1}}
	zero := []configs.Range{{}}
	container := &configs.ProcAttrs{
		Scheduler:       &configs.Scheduler{Policy: unix.SCHED_BATCH, Name: "SCHED_BATCH"},
		IOPriority:      &configs.IOPriority{Class: 2, Priority: 4},
		Personality:     &configs.Personality{Domain: 8, Name: "LINUX32"},
		MemoryPolicy:    &configs.MemoryPolicy{Mode: unix.MPOL_BIND, Name: "MPOL_BIND", Nodes: zero},
		ExecCPUAffinity: &configs.CPUAffinity{Final: one},
	}
	own := &configs.ProcAttrs{
		IOPriority:      &configs.IOPriority{Class: 3},
		ExecCPUAffinity: &configs.CPUAffinity{Initial: zero},
	}
	for _, tc := range []struct {
		name            string
		container, exec *configs.ProcAttrs
		want            *configs.ProcAttrs
	}{
		{"neither", nil, nil, nil},
		{"container only", container, nil, &configs.ProcAttrs{
			Scheduler: container.Scheduler, IOPriority: container.IOPriority, Personality: container.Personality,
			MemoryPolicy: container.MemoryPolicy, ExecCPUAffinity: container.ExecCPUAffinity, CPUAffinity: container.ExecCPUAffinity,
		}},
		{"exec's own win", container, own, &configs.ProcAttrs{
			Scheduler: container.Scheduler, IOPriority: own.IOPriority, Personality: container.Personality,
			MemoryPolicy: container.MemoryPolicy, ExecCPUAffinity: own.ExecCPUAffinity, CPUAffinity: own.ExecCPUAffinity,
		}},
		{"exec only", nil, own, &configs.ProcAttrs{
			IOPriority: own.IOPriority, ExecCPUAffinity: own.ExecCPUAffinity, CPUAffinity: own.ExecCPUAffinity,
		}},
		// linux.* fields come with the container, never with --process.
		{"personality is the container's", &configs.ProcAttrs{}, &configs.ProcAttrs{Personality: &configs.Personality{Domain: 8}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := execAttrs(tc.container, tc.exec); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("execAttrs = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestInheritProcess(t *testing.T) {
	container := configs.Process{
		Capabilities:    &configs.Capabilities{Bounding: []string{"CAP_CHOWN"}},
		ApparmorProfile: "container-profile",
		SelinuxLabel:    "system_u:system_r:container_t:s0:c1",
		Rlimits:         []configs.Rlimit{{Type: 7, Name: "RLIMIT_NOFILE", Soft: 10, Hard: 20}},
		Seccomp:         &configs.Seccomp{},
		NoNewPrivs:      true,
		OOMScoreAdj:     ptr(200),
	}
	own := configs.Process{
		Args:            []string{"sh"},
		Capabilities:    &configs.Capabilities{},
		ApparmorProfile: "own-profile",
		SelinuxLabel:    "system_u:system_r:other_t:s0",
		Rlimits:         []configs.Rlimit{{Type: 7, Name: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
		OOMScoreAdj:     ptr(-5),
	}

	bare := configs.Process{Args: []string{"sh"}}
	inheritProcess(&bare, &container)
	want := container
	want.Args = []string{"sh"}
	// NoNewPrivs is the caller's to resolve (a bool cannot say "omitted").
	want.NoNewPrivs = false
	if !reflect.DeepEqual(bare, want) {
		t.Errorf("bare process:\n got %+v\nwant %+v", bare, want)
	}

	given := own
	inheritProcess(&given, &container)
	want = own
	want.Seccomp = container.Seccomp // never the exec's own
	if !reflect.DeepEqual(given, want) {
		t.Errorf("explicit values (an empty capability set included) must win:\n got %+v\nwant %+v", given, want)
	}
}

func TestDecodeProcessNoNewPrivs(t *testing.T) {
	for _, tc := range []struct {
		json      string
		container bool
		want      bool
	}{
		{`{"args":["sh"],"cwd":"/"}`, true, true},
		{`{"args":["sh"],"cwd":"/"}`, false, false},
		{`{"args":["sh"],"cwd":"/","noNewPrivileges":false}`, true, false},
		{`{"args":["sh"],"cwd":"/","noNewPrivileges":true}`, false, true},
	} {
		p, err := DecodeExecProcess([]byte(tc.json), &configs.Process{NoNewPrivs: tc.container})
		if err != nil || p.NoNewPrivs != tc.want {
			t.Errorf("DecodeExecProcess(%s) into a container with noNewPrivileges %v: %v, %v; want %v", tc.json, tc.container, p, err, tc.want)
		}
	}
	if _, err := DecodeExecProcess([]byte(`{"args":`), &configs.Process{}); err == nil {
		t.Error("DecodeExecProcess accepted truncated JSON")
	}
}

func TestExecProcessFlags(t *testing.T) {
	umask := uint32(0o027)
	base := &configs.Process{
		Args: []string{"init"}, Env: []string{"PATH=/bin", "A=1"}, Cwd: "/srv", UID: 1, GID: 2,
		AdditionalGids: []uint32{10}, Umask: &umask, NoNewPrivs: true,
		Capabilities:    &configs.Capabilities{Bounding: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"}},
		ApparmorProfile: "container", SelinuxLabel: "system_u:system_r:container_t:s0",
		Rlimits: []configs.Rlimit{{Type: 7, Name: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
	}
	uid, nnp := uint32(1000), false
	p, err := ExecProcess(base, ExecFlags{
		Args: []string{"sh", "-c", "id"}, Env: []string{"B=2"}, Cwd: "/tmp", Terminal: true,
		UID: &uid, AdditionalGids: []uint32{11}, NoNewPrivs: &nnp, Caps: []string{"CAP_NET_ADMIN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Args, []string{"sh", "-c", "id"}) || !reflect.DeepEqual(p.Env, []string{"PATH=/bin", "A=1", "B=2"}) ||
		p.Cwd != "/tmp" || !p.Terminal || p.UID != 1000 || p.GID != 2 || !reflect.DeepEqual(p.AdditionalGids, []uint32{10, 11}) ||
		p.NoNewPrivs || p.Umask == nil || *p.Umask != 0o027 {
		t.Errorf("flags on top of the container's process: %+v", p)
	}
	c := p.Capabilities
	if !reflect.DeepEqual(c.Bounding, []string{"CAP_CHOWN", "CAP_NET_ADMIN"}) || !reflect.DeepEqual(c.Permitted, c.Bounding) ||
		!reflect.DeepEqual(c.Effective, c.Bounding) || len(c.Inheritable) != 0 {
		t.Errorf("--cap goes to bounding, effective and permitted, never inheritable: %+v", c)
	}
	if p.ApparmorProfile != "container" || p.SelinuxLabel != base.SelinuxLabel || !reflect.DeepEqual(p.Rlimits, base.Rlimits) {
		t.Errorf("what the flags leave out is the container's: %+v", p)
	}
	if base.Capabilities.Bounding[0] != "CAP_CHOWN" || len(base.Capabilities.Bounding) != 1 || len(base.Env) != 2 {
		t.Errorf("the container's process changed: %+v", base)
	}
	for name, f := range map[string]ExecFlags{
		"no args":    {},
		"rel cwd":    {Args: []string{"sh"}, Cwd: "tmp"},
		"env no =":   {Args: []string{"sh"}, Env: []string{"B"}},
		"NUL in arg": {Args: []string{"s\x00h"}},
	} {
		if _, err := ExecProcess(base, f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// runtime-spec 1.3 and runc 1.4: an unknown capability is logged and
	// ignored when the sets are built, not refused.
	p, err = ExecProcess(base, ExecFlags{Args: []string{"sh"}, Caps: []string{"CAP_BOGUS"}})
	if err != nil || !slices.Contains(p.Capabilities.Bounding, "CAP_BOGUS") {
		t.Errorf("--cap CAP_BOGUS: %v, %+v; want it passed on for a warning", err, p)
	}
}

// TestExecCapAmbient: as runc 1.4, `exec --cap` also raises the capability in
// the ambient set, where the inheritable set lets the kernel raise it.
func TestExecCapAmbient(t *testing.T) {
	base := &configs.Process{Args: []string{"sh"}, Cwd: "/", Capabilities: &configs.Capabilities{
		Bounding: []string{"CAP_CHOWN"}, Permitted: []string{"CAP_CHOWN"}, Effective: []string{"CAP_CHOWN"},
		Inheritable: []string{"CAP_NET_ADMIN"}, Ambient: []string{},
	}}
	p, err := ExecProcess(base, ExecFlags{Args: []string{"sh"}, Caps: []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Capabilities
	if !reflect.DeepEqual(c.Ambient, []string{"CAP_NET_ADMIN"}) {
		t.Errorf("ambient = %q, want only CAP_NET_ADMIN (CAP_SYS_TIME is not inheritable)", c.Ambient)
	}
	if !reflect.DeepEqual(c.Inheritable, []string{"CAP_NET_ADMIN"}) {
		t.Errorf("inheritable = %q, want the container's, never the --cap ones", c.Inheritable)
	}
	if len(base.Capabilities.Ambient) != 0 {
		t.Errorf("the container's ambient set changed: %q", base.Capabilities.Ambient)
	}
}

func TestNotifySocket(t *testing.T) {
	bundle := newBundle(t)
	spec := Example()
	spec.Process.Env = []string{"NOTIFY_SOCKET=/old", "A=1"}
	c, err := ToConfig(spec, Options{Bundle: bundle, NotifySocket: "/run/sd/notify", NotifyDir: "/run/ocirun/x/notify"})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mounts[len(c.Mounts)-1]
	if m.Source != "/run/ocirun/x/notify" || m.Destination != "/run/sd" || !m.IsBind() || c.NotifySocket != "/run/sd/notify" {
		t.Errorf("notify mount %+v, socket %q", m, c.NotifySocket)
	}
	if !reflect.DeepEqual(c.Process.Env, []string{"A=1", "NOTIFY_SOCKET=/run/sd/notify"}) {
		t.Errorf("env %q", c.Process.Env)
	}
	if _, err := ToConfig(Example(), Options{Bundle: bundle, NotifySocket: "rel/sock", NotifyDir: "/d"}); err == nil {
		t.Error("a relative NOTIFY_SOCKET was accepted")
	}
	if c, err := ToConfig(Example(), Options{Bundle: bundle, SystemdCgroup: true}); err != nil || !c.Cgroups.Systemd {
		t.Errorf("SystemdCgroup: %v, %v", c, err)
	}
}

// TestEnvDedup: a later duplicate overrides an earlier one where the later
// one stands (runc 1.4, Go's os/exec), in a config and in what exec adds;
// a value with a newline is kept whole.
func TestEnvDedup(t *testing.T) {
	spec := Example()
	spec.Process.Env = []string{"A=1", "B=x\ny", "A=2", "C=3", "B=", "A=3"}
	c, err := ToConfig(spec, Options{ID: "t", Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"C=3", "B=", "A=3"}; !reflect.DeepEqual(c.Process.Env, want) {
		t.Errorf("config env = %q, want %q", c.Process.Env, want)
	}
	base := &configs.Process{Args: []string{"sh"}, Cwd: "/", Env: []string{"PATH=/bin", "A=1", "M=a\nb"}}
	p, err := ExecProcess(base, ExecFlags{Args: []string{"sh"}, Env: []string{"A=2", "N=c\nd"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "M=a\nb", "A=2", "N=c\nd"}; !reflect.DeepEqual(p.Env, want) {
		t.Errorf("exec env = %q, want %q", p.Env, want)
	}
	p, err = DecodeExecProcess([]byte(`{"args":["sh"],"cwd":"/","env":["X=1","X=2\nlines"]}`), base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"X=2\nlines"}; !reflect.DeepEqual(p.Env, want) {
		t.Errorf("exec --process env = %q, want %q", p.Env, want)
	}
}
