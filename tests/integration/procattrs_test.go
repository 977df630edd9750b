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

// procAttrs mirrors the probe's ProcAttrs (tests/cmd/probe/procattrs.go).
type procAttrs struct {
	SchedPolicy uint32            `json:"schedPolicy"`
	SchedFlags  uint64            `json:"schedFlags"`
	Nice        int32             `json:"nice"`
	Priority    uint32            `json:"priority"`
	Runtime     uint64            `json:"runtime"`
	Deadline    uint64            `json:"deadline"`
	Period      uint64            `json:"period"`
	IOPrio      int               `json:"ioprio"`
	Personality int               `json:"personality"`
	Machine     string            `json:"machine"`
	CpusAllowed string            `json:"cpusAllowed"`
	NumaPolicy  string            `json:"numaPolicy"`
	Errors      map[string]string `json:"errors"`
}

func parseProcAttrs(t *testing.T, r bundle.Result) procAttrs {
	t.Helper()
	var a procAttrs
	if err := json.Unmarshal([]byte(r.Stdout), &a); err != nil {
		t.Fatalf("probe procattrs output: %v\n%v", err, r)
	}
	if len(a.Errors) > 0 {
		t.Fatalf("probe procattrs: %v", a.Errors)
	}
	return a
}

// runProcAttrs runs the container in the foreground with `probe procattrs`
// as its process and returns what the probe saw.
func runProcAttrs(t *testing.T, edit func(*specs.Spec)) procAttrs {
	t.Helper()
	b := bundle.New(t, bundle.WithProbe("procattrs"), bundle.WithSpec(edit))
	return parseProcAttrs(t, b.MustRun(t, "run", "--bundle", b.Dir, b.ID))
}

// skipOldRunc skips when the runtime under test is a runc older than the
// release that implemented feature (1.1.5 silently ignores all of these).
func skipOldRunc(t *testing.T, feature, since string) {
	t.Helper()
	if !bundle.IsRunc(t) {
		return
	}
	out, err := exec.Command(bundle.Runtime(t), "--version").Output()
	if err != nil {
		t.Fatalf("runc --version: %v", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	v := strings.TrimPrefix(first, "runc version ")
	if versionLess(v, since) {
		t.Skipf("runc %s predates %s (runc %s): it ignores the field", v, feature, since)
	}
}

// versionLess compares the numeric major.minor.patch prefixes.
func versionLess(a, b string) bool {
	num := func(s string) [3]int {
		var out [3]int
		for i, p := range strings.SplitN(s, ".", 3) {
			digits := p[:len(p)-len(strings.TrimLeft(p, "0123456789"))]
			out[i], _ = strconv.Atoi(digits)
		}
		return out
	}
	x, y := num(a), num(b)
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

func TestProcAttrsScheduler(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "process.scheduler", "1.2.0")
	const (
		schedFIFO, schedBatch, schedIdle, schedDeadline = 1, 3, 5, 6
		resetOnFork                                     = 0x1
	)
	cases := []struct {
		name  string
		sched specs.Scheduler
		rt    bool // needs a real-time budget in the container's cpu cgroup
		check func(*testing.T, procAttrs)
	}{
		{"batch nice", specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}, false, func(t *testing.T, a procAttrs) {
			if a.SchedPolicy != schedBatch || a.Nice != 7 {
				t.Errorf("policy %d nice %d, want SCHED_BATCH (3) nice 7", a.SchedPolicy, a.Nice)
			}
		}},
		{"idle", specs.Scheduler{Policy: specs.SchedIdle}, false, func(t *testing.T, a procAttrs) {
			if a.SchedPolicy != schedIdle {
				t.Errorf("policy %d, want SCHED_IDLE (5)", a.SchedPolicy)
			}
		}},
		{"fifo reset on fork", specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, true, func(t *testing.T, a procAttrs) {
			if a.SchedPolicy != schedFIFO || a.Priority != 10 || a.SchedFlags&resetOnFork == 0 {
				t.Errorf("policy %d priority %d flags %#x, want SCHED_FIFO (1) priority 10 with RESET_ON_FORK", a.SchedPolicy, a.Priority, a.SchedFlags)
			}
		}},
		// RESET_ON_FORK: a SCHED_DEADLINE task may not fork otherwise, and
		// the probe's Go runtime starts threads.
		{"deadline", specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1_000_000, Deadline: 10_000_000, Period: 20_000_000, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, false, func(t *testing.T, a procAttrs) {
			if a.SchedPolicy != schedDeadline || a.Runtime != 1_000_000 || a.Deadline != 10_000_000 || a.Period != 20_000_000 {
				t.Errorf("got %+v, want SCHED_DEADLINE (6) 1ms/10ms/20ms", a)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := runProcAttrs(t, func(s *specs.Spec) {
				s.Process.Scheduler = &tc.sched
				if tc.rt {
					// With RT group scheduling (cgroup v1 cpu) a new cgroup
					// has no real-time budget; the parent's is 950 ms/s.
					s.Linux.Resources.CPU = &specs.LinuxCPU{RealtimePeriod: ptrTo[uint64](1_000_000), RealtimeRuntime: ptrTo[int64](10_000)}
				}
			})
			tc.check(t, a)
		})
	}
}

// TestProcAttrsSchedulerNoRTBudget: without a real-time budget for its cgroup,
// SCHED_FIFO fails with a message that names the field and the way out.
func TestProcAttrsSchedulerNoRTBudget(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"); err != nil {
		t.Skip("no cgroup v1 RT group scheduling here: a new cgroup gets a real-time budget")
	}
	skipOldRunc(t, "process.scheduler", "1.2.0")
	b := bundle.New(t, bundle.WithProbe("procattrs"), bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 5}
	}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("SCHED_FIFO without cpu.rt_runtime_us succeeded: %v", r)
	}
	if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "process.scheduler: sched_setattr(SCHED_FIFO): operation not permitted") {
		t.Errorf("stderr %q does not name process.scheduler and EPERM", r.Stderr)
	}
	b.CheckGone(t)
}

func TestProcAttrsIOPriority(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "process.ioPriority", "1.2.0")
	cases := []struct {
		class specs.IOPriorityClass
		prio  int
		want  int // ioprio_get: class << 13 | level
	}{
		{specs.IOPRIO_CLASS_BE, 6, 2<<13 | 6},
		{specs.IOPRIO_CLASS_RT, 2, 1<<13 | 2},
		{specs.IOPRIO_CLASS_IDLE, 7, 3<<13 | 7},
	}
	for _, tc := range cases {
		t.Run(string(tc.class), func(t *testing.T) {
			t.Parallel()
			a := runProcAttrs(t, func(s *specs.Spec) {
				s.Process.IOPriority = &specs.LinuxIOPriority{Class: tc.class, Priority: tc.prio}
			})
			if a.IOPrio != tc.want {
				t.Errorf("ioprio_get = %#x, want %#x", a.IOPrio, tc.want)
			}
		})
	}
}

func TestProcAttrsPersonality(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "linux.personality", "1.2.0")
	cases := []struct {
		domain      specs.LinuxPersonalityDomain
		personality int
		machine     string
	}{
		{specs.PerLinux32, 0x0008, "i686"},
		{specs.PerLinux, 0, "x86_64"},
	}
	host, err := exec.Command("uname", "-m").Output()
	if err != nil || strings.TrimSpace(string(host)) != "x86_64" {
		t.Skipf("the expected machine names are x86_64's; uname -m says %q", host)
	}
	for _, tc := range cases {
		t.Run(string(tc.domain), func(t *testing.T) {
			t.Parallel()
			a := runProcAttrs(t, func(s *specs.Spec) {
				s.Linux.Personality = &specs.LinuxPersonality{Domain: tc.domain}
			})
			if a.Personality != tc.personality || a.Machine != tc.machine {
				t.Errorf("personality %#x, uname -m %q; want %#x, %q", a.Personality, a.Machine, tc.personality, tc.machine)
			}
		})
	}
}

func TestProcAttrsMemoryPolicy(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "linux.memoryPolicy", "1.4.0")
	if _, err := os.Stat("/sys/devices/system/node/node0"); err != nil {
		t.Skip("no NUMA node 0 in sysfs (kernel without CONFIG_NUMA)")
	}
	cases := []struct {
		name   string
		policy specs.LinuxMemoryPolicy
		want   string // prefix of the numa_maps policy
	}{
		{"bind", specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}, "bind:0 "},
		{"interleave", specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0"}, "interleave:0 "},
		{"bind static", specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}, "bind=static:0 "},
		{"preferred", specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred, Nodes: "0"}, "prefer:0 "},
		{"local", specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}, "local "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := runProcAttrs(t, func(s *specs.Spec) { s.Linux.MemoryPolicy = &tc.policy })
			if !strings.HasPrefix(a.NumaPolicy, tc.want) {
				t.Errorf("numa_maps policy %q, want %q", a.NumaPolicy, tc.want)
			}
		})
	}
	t.Run("absent node", func(t *testing.T) {
		t.Parallel()
		if _, err := os.Stat("/sys/devices/system/node/node1"); err == nil {
			t.Skip("node 1 exists here")
		}
		b := bundle.New(t, bundle.WithProbe("procattrs"), bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "1"}
		}))
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		if r.Code == 0 {
			t.Fatalf("MPOL_BIND to an absent node succeeded: %v", r)
		}
		if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "linux.memoryPolicy: set_mempolicy(MPOL_BIND): invalid argument") {
			t.Errorf("stderr %q does not name linux.memoryPolicy", r.Stderr)
		}
	})
}

// TestProcAttrsExecCPUAffinity: execCPUAffinity is for the processes `exec`
// starts, never the container's init (runtime-spec config.md). The machine
// needs a second CPU.
func TestProcAttrsExecCPUAffinity(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "process.execCPUAffinity", "1.3.0")
	if _, err := os.Stat("/sys/devices/system/cpu/cpu1"); err != nil {
		t.Skip("needs CPUs 0 and 1")
	}
	own, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	ownCPUs := cpusAllowedList(string(own))
	if ownCPUs != "0-1" {
		t.Skipf("the test process may run on %s, the test wants 0-1", ownCPUs)
	}
	b := bundle.New(t, bundle.WithProbe("sleep", "60"), bundle.WithSpec(func(s *specs.Spec) {
		s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "1"}
	}))
	b.RunDetached(t)
	pid := b.MustState(t).Pid
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	if cpus := cpusAllowedList(string(status)); cpus != "0-1" {
		t.Errorf("the container's init runs on CPUs %q, want 0-1 (execCPUAffinity is for exec only)", cpus)
	}

	// `exec` without --process takes the container's execCPUAffinity.
	a := parseProcAttrs(t, b.MustRun(t, "exec", b.ID, bundle.ProbePath, "procattrs"))
	if a.CpusAllowed != "1" {
		t.Errorf("exec runs on CPUs %q, want the config's final 1", a.CpusAllowed)
	}

	// --process brings its own.
	procJSON := func(initial, final string) string {
		p := specs.Process{
			Args:            []string{bundle.ProbePath, "procattrs"},
			Cwd:             "/",
			Env:             []string{"PATH=/bin"},
			ExecCPUAffinity: &specs.CPUAffinity{Initial: initial, Final: final},
		}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "process.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a = parseProcAttrs(t, b.MustRun(t, "exec", "--process", procJSON("1", "0"), b.ID))
	if a.CpusAllowed != "0" {
		t.Errorf("exec --process runs on CPUs %q, want its final 0", a.CpusAllowed)
	}

	// A CPU that does not exist fails the exec, naming the field: the
	// runtime did call sched_setaffinity with each list.
	if _, err := os.Stat("/sys/devices/system/cpu/cpu7"); err == nil {
		return
	}
	for _, tc := range []struct{ initial, final, field string }{
		{"7", "", "process.execCPUAffinity.initial"},
		{"", "7", "process.execCPUAffinity.final"},
	} {
		r := b.Run(t, "exec", "--process", procJSON(tc.initial, tc.final), b.ID)
		if r.Code == 0 {
			t.Errorf("exec with %s on absent CPU 7 succeeded: %v", tc.field, r)
			continue
		}
		if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, tc.field+": sched_setaffinity: invalid argument") {
			t.Errorf("exec with %s on absent CPU 7: stderr %q does not name the field", tc.field, r.Stderr)
		}
	}
}

// cpusAllowedList returns the Cpus_allowed_list value of /proc/PID/status text.
func cpusAllowedList(status string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func ptrTo[T any](v T) *T { return &v }
