package specconv

import (
	"reflect"
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
	}
	own := configs.Process{
		Args:            []string{"sh"},
		Capabilities:    &configs.Capabilities{},
		ApparmorProfile: "own-profile",
		SelinuxLabel:    "system_u:system_r:other_t:s0",
		Rlimits:         []configs.Rlimit{{Type: 7, Name: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
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
