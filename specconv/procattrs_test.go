package specconv

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestToConfigProcAttrs(t *testing.T) {
	bundle := newBundle(t)
	sched := func(s specs.Scheduler) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.Scheduler = &s }
	}
	ioprio := func(class specs.IOPriorityClass, prio int) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.IOPriority = &specs.LinuxIOPriority{Class: class, Priority: prio} }
	}
	affinity := func(initial, final string) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: initial, Final: final} }
	}
	persona := func(d specs.LinuxPersonalityDomain, flags ...specs.LinuxPersonalityFlag) func(*specs.Spec) {
		return func(sp *specs.Spec) { sp.Linux.Personality = &specs.LinuxPersonality{Domain: d, Flags: flags} }
	}
	mpol := func(mode specs.MemoryPolicyModeType, nodes string, flags ...specs.MemoryPolicyFlagType) func(*specs.Spec) {
		return func(sp *specs.Spec) {
			sp.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: mode, Nodes: nodes, Flags: flags}
		}
	}
	tests := []struct {
		name    string
		mutate  func(*specs.Spec)
		want    *configs.ProcAttrs
		wantErr string
	}{
		{name: "none", mutate: func(*specs.Spec) {}, want: nil},

		// process.scheduler
		{name: "sched other nice", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Nice: -5}),
			want: &configs.ProcAttrs{Scheduler: &configs.Scheduler{Policy: unix.SCHED_NORMAL, Name: "SCHED_OTHER", Nice: -5}}},
		{name: "sched fifo", mutate: sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}),
			want: &configs.ProcAttrs{Scheduler: &configs.Scheduler{Policy: unix.SCHED_FIFO, Name: "SCHED_FIFO", Priority: 10, Flags: unix.SCHED_FLAG_RESET_ON_FORK}}},
		{name: "sched deadline", mutate: sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 10_000_000, Deadline: 20_000_000, Period: 40_000_000}),
			want: &configs.ProcAttrs{Scheduler: &configs.Scheduler{Policy: unix.SCHED_DEADLINE, Name: "SCHED_DEADLINE", Runtime: 10_000_000, Deadline: 20_000_000, Period: 40_000_000}}},
		{name: "sched empty policy", mutate: sched(specs.Scheduler{}),
			wantErr: `process.scheduler.policy: unknown policy "", want one of SCHED_BATCH, SCHED_DEADLINE, SCHED_FIFO, SCHED_IDLE, SCHED_OTHER, SCHED_RR`},
		{name: "sched iso", mutate: sched(specs.Scheduler{Policy: specs.SchedISO}),
			wantErr: `process.scheduler.policy: "SCHED_ISO" is not implemented by Linux`},
		{name: "sched bad flag", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagReclaim, "SCHED_FLAG_FAST"}}),
			wantErr: `process.scheduler.flags[1]: unknown flag "SCHED_FLAG_FAST", want one of SCHED_FLAG_DL_OVERRUN, SCHED_FLAG_KEEP_PARAMS, SCHED_FLAG_KEEP_POLICY, SCHED_FLAG_RECLAIM, SCHED_FLAG_RESET_ON_FORK, SCHED_FLAG_UTIL_CLAMP_MAX, SCHED_FLAG_UTIL_CLAMP_MIN`},
		{name: "sched nice range", mutate: sched(specs.Scheduler{Policy: specs.SchedBatch, Nice: 20}),
			wantErr: "process.scheduler.nice: must be in [-20, 19], got 20"},
		{name: "sched priority for other", mutate: sched(specs.Scheduler{Policy: specs.SchedOther, Priority: 1}),
			wantErr: "process.scheduler.priority: only SCHED_FIFO and SCHED_RR take a priority, got 1 with SCHED_OTHER"},
		{name: "sched rr priority zero", mutate: sched(specs.Scheduler{Policy: specs.SchedRR}),
			wantErr: "process.scheduler.priority: must be in [1, 99] for SCHED_RR, got 0"},
		{name: "sched fifo priority 100", mutate: sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 100}),
			wantErr: "process.scheduler.priority: must be in [1, 99] for SCHED_FIFO, got 100"},
		{name: "sched runtime without deadline policy", mutate: sched(specs.Scheduler{Policy: specs.SchedIdle, Runtime: 5000}),
			wantErr: "process.scheduler: runtime, deadline and period are only for SCHED_DEADLINE, got them with SCHED_IDLE"},
		{name: "sched deadline tiny runtime", mutate: sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 100, Deadline: 1000}),
			wantErr: "process.scheduler.runtime: SCHED_DEADLINE needs at least 1024 ns, got 100"},
		{name: "sched deadline below runtime", mutate: sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 5000, Deadline: 4000}),
			wantErr: "process.scheduler.deadline: must be at least runtime (5000 ns), got 4000"},
		{name: "sched period below deadline", mutate: sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 5000, Deadline: 6000, Period: 5500}),
			wantErr: "process.scheduler.period: must be 0 or at least deadline (6000 ns), got 5500"},

		// process.ioPriority
		{name: "ioprio be", mutate: ioprio(specs.IOPRIO_CLASS_BE, 7),
			want: &configs.ProcAttrs{IOPriority: &configs.IOPriority{Class: 2, Priority: 7}}},
		{name: "ioprio idle", mutate: ioprio(specs.IOPRIO_CLASS_IDLE, 0),
			want: &configs.ProcAttrs{IOPriority: &configs.IOPriority{Class: 3}}},
		{name: "ioprio bad class", mutate: ioprio("IOPRIO_CLASS_NONE", 0),
			wantErr: `process.ioPriority.class: unknown class "IOPRIO_CLASS_NONE", want one of IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE, IOPRIO_CLASS_RT`},
		{name: "ioprio level 8", mutate: ioprio(specs.IOPRIO_CLASS_RT, 8),
			wantErr: "process.ioPriority.priority: must be in [0, 7], got 8"},
		{name: "ioprio negative", mutate: ioprio(specs.IOPRIO_CLASS_RT, -1),
			wantErr: "process.ioPriority.priority: must be in [0, 7], got -1"},

		// process.execCPUAffinity
		{name: "affinity list", mutate: affinity("0-3,7", "1"),
			want: &configs.ProcAttrs{ExecCPUAffinity: &configs.CPUAffinity{
				Initial: []configs.Range{{First: 0, Last: 3}, {First: 7, Last: 7}},
				Final:   []configs.Range{{First: 1, Last: 1}},
			}}},
		{name: "affinity empty", mutate: affinity("", ""), want: nil},
		{name: "affinity backwards", mutate: affinity("3-1", ""),
			wantErr: `process.execCPUAffinity.initial: invalid CPU list "3-1": range "3-1" goes backwards`},
		{name: "affinity not a number", mutate: affinity("", "0,x"),
			wantErr: `process.execCPUAffinity.final: invalid CPU list "0,x": "x" is not a number`},
		{name: "affinity empty item", mutate: affinity("", "0,,1"),
			wantErr: `process.execCPUAffinity.final: invalid CPU list "0,,1": "" is not a number`},
		{name: "affinity open range", mutate: affinity("2-", ""),
			wantErr: `process.execCPUAffinity.initial: invalid CPU list "2-": "" is not a number`},
		{name: "affinity sign", mutate: affinity("+1", ""),
			wantErr: `process.execCPUAffinity.initial: invalid CPU list "+1": "+1" is not a number`},
		{name: "affinity too big", mutate: affinity("0-8192", ""),
			wantErr: `process.execCPUAffinity.initial: invalid CPU list "0-8192": 8192 is above the maximum 8191`},

		// linux.personality
		{name: "personality linux32", mutate: persona(specs.PerLinux32),
			want: &configs.ProcAttrs{Personality: &configs.Personality{Domain: 8, Name: "LINUX32"}}},
		{name: "personality linux", mutate: persona(specs.PerLinux),
			want: &configs.ProcAttrs{Personality: &configs.Personality{Domain: 0, Name: "LINUX"}}},
		{name: "personality empty domain", mutate: persona(""),
			wantErr: `linux.personality.domain: unknown domain "", want LINUX or LINUX32`},
		{name: "personality flag", mutate: persona(specs.PerLinux, "ADDR_NO_RANDOMIZE"),
			wantErr: `linux.personality.flags[0]: unknown flag "ADDR_NO_RANDOMIZE" (the runtime-spec defines none)`},

		// linux.memoryPolicy
		{name: "mpol bind", mutate: mpol(specs.MpolBind, "0"),
			want: &configs.ProcAttrs{MemoryPolicy: &configs.MemoryPolicy{Mode: unix.MPOL_BIND, Name: "MPOL_BIND", Nodes: []configs.Range{{}}}}},
		{name: "mpol interleave static", mutate: mpol(specs.MpolInterleave, "0-3", specs.MpolFStaticNodes),
			want: &configs.ProcAttrs{MemoryPolicy: &configs.MemoryPolicy{Mode: unix.MPOL_INTERLEAVE | unix.MPOL_F_STATIC_NODES, Name: "MPOL_INTERLEAVE", Nodes: []configs.Range{{First: 0, Last: 3}}}}},
		{name: "mpol default", mutate: mpol(specs.MpolDefault, ""),
			want: &configs.ProcAttrs{MemoryPolicy: &configs.MemoryPolicy{Mode: unix.MPOL_DEFAULT, Name: "MPOL_DEFAULT"}}},
		{name: "mpol preferred local", mutate: mpol(specs.MpolPreferred, ""),
			want: &configs.ProcAttrs{MemoryPolicy: &configs.MemoryPolicy{Mode: unix.MPOL_PREFERRED, Name: "MPOL_PREFERRED"}}},
		{name: "mpol bad mode", mutate: mpol("MPOL_RANDOM", "0"),
			wantErr: `invalid memory policy mode "MPOL_RANDOM": linux.memoryPolicy.mode: want one of MPOL_DEFAULT, MPOL_BIND, MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE, MPOL_PREFERRED, MPOL_PREFERRED_MANY, MPOL_LOCAL`},
		{name: "mpol local with nodes", mutate: mpol(specs.MpolLocal, "0"),
			wantErr: `invalid memory policy: linux.memoryPolicy.nodes: must be empty with MPOL_LOCAL, got "0"`},
		{name: "mpol bind without nodes", mutate: mpol(specs.MpolBind, ""),
			wantErr: "invalid memory policy: linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"},
		{name: "mpol preferred two nodes", mutate: mpol(specs.MpolPreferred, "0-1"),
			wantErr: `invalid memory policy: linux.memoryPolicy.nodes: MPOL_PREFERRED takes at most one node, got "0-1"`},
		{name: "mpol node too big", mutate: mpol(specs.MpolBind, "1024"),
			wantErr: `invalid memory policy: linux.memoryPolicy.nodes: invalid node list "1024": 1024 is above the maximum 1023`},
		{name: "mpol bad flag", mutate: mpol(specs.MpolBind, "0", "MPOL_F_NODE"),
			wantErr: `invalid memory policy flag "MPOL_F_NODE": linux.memoryPolicy.flags[0]: want one of MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES`},
		{name: "mpol static and relative", mutate: mpol(specs.MpolBind, "0", specs.MpolFStaticNodes, specs.MpolFRelativeNodes),
			wantErr: "invalid memory policy: linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"},
		{name: "mpol static without nodes", mutate: mpol(specs.MpolPreferred, "", specs.MpolFStaticNodes),
			wantErr: "invalid memory policy: linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := Example()
			tc.mutate(spec)
			c, err := ToConfig(spec, Options{ID: "test", Bundle: bundle})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v\nwant   %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(c.Process.Attrs, tc.want) {
				t.Errorf("Attrs = %s\nwant    %s", dump(c.Process.Attrs), dump(tc.want))
			}
		})
	}
}

// TestToProcessAttrs checks that `exec --process` gets the process-level
// attributes validated and converted too.
func TestToProcessAttrs(t *testing.T) {
	p := Example().Process
	p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 3}
	p.ExecCPUAffinity = &specs.CPUAffinity{Final: "1"}
	got, err := ToProcess(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &configs.ProcAttrs{
		IOPriority:      &configs.IOPriority{Class: 2, Priority: 3},
		ExecCPUAffinity: &configs.CPUAffinity{Final: []configs.Range{{First: 1, Last: 1}}},
	}
	if !reflect.DeepEqual(got.Attrs, want) {
		t.Errorf("Attrs = %s, want %s", dump(got.Attrs), dump(want))
	}
	p.Scheduler = &specs.Scheduler{Policy: specs.SchedRR}
	if _, err := ToProcess(p); err == nil || err.Error() != "process.scheduler.priority: must be in [1, 99] for SCHED_RR, got 0" {
		t.Errorf("err = %v", err)
	}
}

func TestIOPriorityValue(t *testing.T) {
	// IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4) as linux/ioprio.h packs it.
	if v := (&configs.IOPriority{Class: 2, Priority: 4}).Value(); v != 2<<13|4 {
		t.Errorf("Value() = %#x", v)
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// FuzzParseList: whatever parses comes back as ordered, bounded ranges
// that print back to a list with the same meaning.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{"0-3,7", "", "1", "3-1", "0,,1", "8191", "0-", "-1", "00,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := parseList("f", "CPU", s, maxCPU)
		if err != nil {
			return
		}
		var items []string
		for _, r := range rs {
			if r.First > r.Last || r.Last > maxCPU {
				t.Fatalf("%q: bad range %+v", s, r)
			}
			items = append(items, fmt.Sprintf("%d-%d", r.First, r.Last))
		}
		again, err := parseList("f", "CPU", strings.Join(items, ","), maxCPU)
		if err != nil || !reflect.DeepEqual(again, rs) {
			t.Fatalf("%q: reparse = %+v, %v; want %+v", s, again, err, rs)
		}
	})
}
