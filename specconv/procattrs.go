package specconv

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// Limits of the "0-3,7" lists: CPU numbers as far as the kernel's NR_CPUS
// goes on common builds (runc's bound too), node numbers up to
// MAX_NUMNODES (1 << CONFIG_NODES_SHIFT, at most 10).
const (
	maxCPU  = 8191
	maxNode = 1023
)

var schedPolicies = sync.OnceValue(func() map[specs.LinuxSchedulerPolicy]uint32 {
	return map[specs.LinuxSchedulerPolicy]uint32{
		specs.SchedOther:    unix.SCHED_NORMAL,
		specs.SchedFIFO:     unix.SCHED_FIFO,
		specs.SchedRR:       unix.SCHED_RR,
		specs.SchedBatch:    unix.SCHED_BATCH,
		specs.SchedIdle:     unix.SCHED_IDLE,
		specs.SchedDeadline: unix.SCHED_DEADLINE,
	}
})

var schedFlags = sync.OnceValue(func() map[specs.LinuxSchedulerFlag]uint64 {
	return map[specs.LinuxSchedulerFlag]uint64{
		specs.SchedFlagResetOnFork:  unix.SCHED_FLAG_RESET_ON_FORK,
		specs.SchedFlagReclaim:      unix.SCHED_FLAG_RECLAIM,
		specs.SchedFlagDLOverrun:    unix.SCHED_FLAG_DL_OVERRUN,
		specs.SchedFlagKeepPolicy:   unix.SCHED_FLAG_KEEP_POLICY,
		specs.SchedFlagKeepParams:   unix.SCHED_FLAG_KEEP_PARAMS,
		specs.SchedFlagUtilClampMin: unix.SCHED_FLAG_UTIL_CLAMP_MIN,
		specs.SchedFlagUtilClampMax: unix.SCHED_FLAG_UTIL_CLAMP_MAX,
	}
})

// Kernel IOPRIO_CLASS_* numbers (linux/ioprio.h; not in x/sys).
var ioprioClasses = sync.OnceValue(func() map[specs.IOPriorityClass]int {
	return map[specs.IOPriorityClass]int{
		specs.IOPRIO_CLASS_RT:   1,
		specs.IOPRIO_CLASS_BE:   2,
		specs.IOPRIO_CLASS_IDLE: 3,
	}
})

// Kernel PER_* personas (linux/personality.h).
var personalities = sync.OnceValue(func() map[specs.LinuxPersonalityDomain]uint32 {
	return map[specs.LinuxPersonalityDomain]uint32{
		specs.PerLinux:   0x0000,
		specs.PerLinux32: 0x0008,
	}
})

type memPolicyMode struct {
	name specs.MemoryPolicyModeType
	mode int
}

type memPolicyFlag struct {
	name specs.MemoryPolicyFlagType
	flag int
}

// memPolicyModes is in the order `features` lists them.
var memPolicyModes = []memPolicyMode{
	{specs.MpolDefault, unix.MPOL_DEFAULT},
	{specs.MpolBind, unix.MPOL_BIND},
	{specs.MpolInterleave, unix.MPOL_INTERLEAVE},
	{specs.MpolWeightedInterleave, unix.MPOL_WEIGHTED_INTERLEAVE},
	{specs.MpolPreferred, unix.MPOL_PREFERRED},
	{specs.MpolPreferredMany, unix.MPOL_PREFERRED_MANY},
	{specs.MpolLocal, unix.MPOL_LOCAL},
}

var memPolicyFlags = []memPolicyFlag{
	{specs.MpolFNumaBalancing, unix.MPOL_F_NUMA_BALANCING},
	{specs.MpolFRelativeNodes, unix.MPOL_F_RELATIVE_NODES},
	{specs.MpolFStaticNodes, unix.MPOL_F_STATIC_NODES},
}

// MemoryPolicyModes lists the linux.memoryPolicy modes ToConfig accepts.
func MemoryPolicyModes() []string {
	out := make([]string, len(memPolicyModes))
	for i, m := range memPolicyModes {
		out[i] = string(m.name)
	}
	return out
}

// MemoryPolicyFlags lists the linux.memoryPolicy flags ToConfig accepts.
func MemoryPolicyFlags() []string {
	out := make([]string, len(memPolicyFlags))
	for i, f := range memPolicyFlags {
		out[i] = string(f.name)
	}
	return out
}

// convertProcAttrs fills c.Process.Attrs from the process's scheduler,
// ioPriority and execCPUAffinity and from linux.personality and
// linux.memoryPolicy. Runs after convertProcess, which sets c.Process.
func convertProcAttrs(spec *specs.Spec, c *configs.Config, ps *problem.List) {
	a := processAttrs(spec.Process, ps)
	if a == nil {
		a = &configs.ProcAttrs{}
	}
	if l := spec.Linux; l != nil {
		var err error
		if a.Personality, err = convertPersonality(l.Personality); err != nil {
			ps.Add(asProblem(err))
		}
		if a.MemoryPolicy, err = convertMemoryPolicy(l.MemoryPolicy); err != nil {
			ps.Add(asProblem(err))
		}
	}
	if *a != (configs.ProcAttrs{}) {
		c.Process.Attrs = a
	}
}

// processAttrs converts the attributes that live in process (and so also
// come with `exec --process`); nil when none is set.
func processAttrs(p *specs.Process, ps *problem.List) *configs.ProcAttrs {
	if p == nil || (p.Scheduler == nil && p.IOPriority == nil && p.ExecCPUAffinity == nil) {
		return nil
	}
	var a configs.ProcAttrs
	var err error
	if a.Scheduler, err = convertScheduler(p.Scheduler); err != nil {
		ps.Add(asProblem(err))
	}
	if a.IOPriority, err = convertIOPriority(p.IOPriority); err != nil {
		ps.Add(asProblem(err))
	}
	if a.ExecCPUAffinity, err = convertCPUAffinity(p.ExecCPUAffinity); err != nil {
		ps.Add(asProblem(err))
	}
	if a == (configs.ProcAttrs{}) {
		return nil
	}
	return &a
}

// bad is a problem as an error, for the converters of one field that stop
// at its first problem.
func bad(path string, value any, hint, format string, args ...any) *problem.Problem {
	return &problem.Problem{Path: path, Value: value, Hint: hint, Problem: fmt.Sprintf(format, args...), Severity: problem.Error}
}

// asProblem is err as a problem (every converter's error is one).
func asProblem(err error) *problem.Problem {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	return &problem.Problem{Problem: err.Error(), Severity: problem.Error}
}

func convertScheduler(s *specs.Scheduler) (*configs.Scheduler, error) {
	if s == nil {
		return nil, nil
	}
	const field = "process.scheduler"
	policies := "want one of " + strings.Join(sortedKeys(schedPolicies()), ", ")
	policy, ok := schedPolicies()[s.Policy]
	if !ok {
		if s.Policy == specs.SchedISO {
			return nil, bad(field+".policy", string(s.Policy), policies, "%q is not implemented by Linux", s.Policy)
		}
		return nil, bad(field+".policy", string(s.Policy), policies, "unknown policy %s, want one of %s", problem.Q(string(s.Policy)), strings.Join(sortedKeys(schedPolicies()), ", "))
	}
	out := &configs.Scheduler{Policy: policy, Name: string(s.Policy)}
	for i, f := range s.Flags {
		bit, ok := schedFlags()[f]
		if !ok {
			return nil, bad(fmt.Sprintf("%s.flags[%d]", field, i), string(f), "want one of "+strings.Join(sortedKeys(schedFlags()), ", "),
				"unknown flag %s, want one of %s", problem.Q(string(f)), strings.Join(sortedKeys(schedFlags()), ", "))
		}
		out.Flags |= bit
	}
	if s.Nice < -20 || s.Nice > 19 {
		return nil, bad(field+".nice", s.Nice, "nice values go from -20 (first) to 19 (last)", "must be in [-20, 19], got %d", s.Nice)
	}
	realtime := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	switch {
	case realtime && (s.Priority < 1 || s.Priority > 99):
		return nil, bad(field+".priority", s.Priority, "real-time priorities go from 1 to 99", "must be in [1, 99] for %s, got %d", s.Policy, s.Priority)
	case !realtime && s.Priority != 0:
		return nil, bad(field+".priority", s.Priority, "leave priority out, or use SCHED_FIFO or SCHED_RR", "only SCHED_FIFO and SCHED_RR take a priority, got %d with %s", s.Priority, s.Policy)
	}
	out.Nice, out.Priority = s.Nice, uint32(s.Priority)
	if s.Policy != specs.SchedDeadline {
		if s.Runtime != 0 || s.Deadline != 0 || s.Period != 0 {
			return nil, bad(field, string(s.Policy), "leave runtime, deadline and period out, or use SCHED_DEADLINE",
				"runtime, deadline and period are only for SCHED_DEADLINE, got them with %s", s.Policy)
		}
		return out, nil
	}
	// The kernel's own checks (sched_dl_overflow aside), as messages that
	// name the field instead of a bare EINVAL.
	period := s.Period
	if period == 0 {
		period = s.Deadline
	}
	const dlHint = "SCHED_DEADLINE needs 1024 <= runtime <= deadline <= period (period 0: the deadline), in ns"
	switch {
	case s.Runtime < 1024:
		return nil, bad(field+".runtime", s.Runtime, dlHint, "SCHED_DEADLINE needs at least 1024 ns, got %d", s.Runtime)
	case s.Deadline < s.Runtime:
		return nil, bad(field+".deadline", s.Deadline, dlHint, "must be at least runtime (%d ns), got %d", s.Runtime, s.Deadline)
	case period < s.Deadline:
		return nil, bad(field+".period", s.Period, dlHint, "must be 0 or at least deadline (%d ns), got %d", s.Deadline, s.Period)
	}
	out.Runtime, out.Deadline, out.Period = s.Runtime, s.Deadline, s.Period
	return out, nil
}

func convertIOPriority(p *specs.LinuxIOPriority) (*configs.IOPriority, error) {
	if p == nil {
		return nil, nil
	}
	class, ok := ioprioClasses()[p.Class]
	if !ok {
		return nil, bad("process.ioPriority.class", string(p.Class), "want one of "+strings.Join(sortedKeys(ioprioClasses()), ", "),
			"unknown class %s, want one of %s", problem.Q(string(p.Class)), strings.Join(sortedKeys(ioprioClasses()), ", "))
	}
	if p.Priority < 0 || p.Priority > 7 {
		return nil, bad("process.ioPriority.priority", p.Priority, "I/O priorities go from 0 (highest) to 7", "must be in [0, 7], got %d", p.Priority)
	}
	return &configs.IOPriority{Class: class, Priority: p.Priority}, nil
}

func convertCPUAffinity(a *specs.CPUAffinity) (*configs.CPUAffinity, error) {
	if a == nil {
		return nil, nil
	}
	initial, err := parseList("process.execCPUAffinity.initial", "CPU", a.Initial, maxCPU)
	if err != nil {
		return nil, err
	}
	final, err := parseList("process.execCPUAffinity.final", "CPU", a.Final, maxCPU)
	if err != nil {
		return nil, err
	}
	if initial == nil && final == nil {
		return nil, nil
	}
	return &configs.CPUAffinity{Initial: initial, Final: final}, nil
}

func convertPersonality(p *specs.LinuxPersonality) (*configs.Personality, error) {
	if p == nil {
		return nil, nil
	}
	domain, ok := personalities()[p.Domain]
	if !ok {
		return nil, bad("linux.personality.domain", string(p.Domain), `"LINUX" or "LINUX32"`, "unknown domain %s, want LINUX or LINUX32", problem.Q(string(p.Domain)))
	}
	if len(p.Flags) > 0 {
		return nil, bad("linux.personality.flags[0]", string(p.Flags[0]), "leave flags out", "unknown flag %s (the runtime-spec defines none)", problem.Q(string(p.Flags[0])))
	}
	return &configs.Personality{Domain: domain, Name: string(p.Domain)}, nil
}

// convertMemoryPolicy's errors start with runc 1.4's words ("invalid memory
// policy mode/flag"), which scripts match, then give the JSON path.
func convertMemoryPolicy(p *specs.LinuxMemoryPolicy) (*configs.MemoryPolicy, error) {
	if p == nil {
		return nil, nil
	}
	mp, err := memoryPolicy(p)
	if err == nil {
		return mp, nil
	}
	pr := asProblem(err)
	if pr.Text == "" {
		// Not worded with runc's words first yet.
		pr.Text = "invalid memory policy: " + pr.Error()
	}
	return nil, pr
}

func memoryPolicy(p *specs.LinuxMemoryPolicy) (*configs.MemoryPolicy, error) {
	const field = "linux.memoryPolicy"
	i := slices.IndexFunc(memPolicyModes, func(m memPolicyMode) bool { return m.name == p.Mode })
	if i < 0 {
		p := bad(field+".mode", string(p.Mode), "want one of "+strings.Join(MemoryPolicyModes(), ", "),
			"unknown mode %s, want one of %s", problem.Q(string(p.Mode)), strings.Join(MemoryPolicyModes(), ", "))
		p.Text = fmt.Sprintf("invalid memory policy mode %q: %s.mode: want one of %s", p.Value, field, strings.Join(MemoryPolicyModes(), ", "))
		return nil, p
	}
	out := &configs.MemoryPolicy{Mode: memPolicyModes[i].mode, Name: string(p.Mode)}
	nodes, err := parseList(field+".nodes", "node", p.Nodes, maxNode)
	if err != nil {
		return nil, err
	}
	const nodesHint = "nodes is a list of NUMA node numbers like \"0-1,3\" (see /sys/devices/system/node)"
	switch p.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if nodes != nil {
			return nil, bad(field+".nodes", p.Nodes, "leave nodes out with "+string(p.Mode), "must be empty with %s, got %s", p.Mode, problem.Q(p.Nodes))
		}
	case specs.MpolPreferred:
		// An empty set means "local allocation"; more than one node is EINVAL.
		if len(nodes) > 1 || (len(nodes) == 1 && nodes[0].First != nodes[0].Last) {
			return nil, bad(field+".nodes", p.Nodes, "give one node, or use MPOL_PREFERRED_MANY", "%s takes at most one node, got %s", p.Mode, problem.Q(p.Nodes))
		}
	default:
		if nodes == nil {
			return nil, bad(field+".nodes", p.Nodes, nodesHint, "%s needs at least one node", p.Mode)
		}
	}
	out.Nodes = nodes
	for j, f := range p.Flags {
		k := slices.IndexFunc(memPolicyFlags, func(m memPolicyFlag) bool { return m.name == f })
		if k < 0 {
			p := bad(fmt.Sprintf("%s.flags[%d]", field, j), string(f), "want one of "+strings.Join(MemoryPolicyFlags(), ", "),
				"unknown flag %s, want one of %s", problem.Q(string(f)), strings.Join(MemoryPolicyFlags(), ", "))
			p.Text = fmt.Sprintf("invalid memory policy flag %q: %s.flags[%d]: want one of %s", f, field, j, strings.Join(MemoryPolicyFlags(), ", "))
			return nil, p
		}
		out.Mode |= memPolicyFlags[k].flag
	}
	if out.Mode&unix.MPOL_F_STATIC_NODES != 0 && out.Mode&unix.MPOL_F_RELATIVE_NODES != 0 {
		return nil, bad(field+".flags", nil, "give one of the two", "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other")
	}
	if out.Mode&(unix.MPOL_F_STATIC_NODES|unix.MPOL_F_RELATIVE_NODES) != 0 && nodes == nil {
		return nil, bad(field+".flags", nil, nodesHint, "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes")
	}
	return out, nil
}

// parseList parses a "0-3,7" list of what (CPU, node) numbers up to max;
// an empty string is an empty list (nil).
func parseList(field, what, s string, max uint32) ([]configs.Range, error) {
	if s == "" {
		return nil, nil
	}
	var out []configs.Range
	for item := range strings.SplitSeq(s, ",") {
		first, last, isRange := strings.Cut(item, "-")
		lo, err := listNumber(first, max)
		if err == nil && isRange {
			var hi uint32
			if hi, err = listNumber(last, max); err == nil && hi < lo {
				err = fmt.Errorf("range %q goes backwards", item)
			}
			out = append(out, configs.Range{First: lo, Last: hi})
		} else {
			out = append(out, configs.Range{First: lo, Last: lo})
		}
		if err != nil {
			return nil, bad(field, s, fmt.Sprintf("a list of %s numbers and ranges up to %d, like \"0-3,7\"", what, max), "invalid %s list %s: %v", what, problem.Q(s), err)
		}
	}
	return out, nil
}

func listNumber(s string, max uint32) (uint32, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > uint64(max) {
		return 0, fmt.Errorf("%s is above the maximum %d", s, max)
	}
	return uint32(n), nil
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}
