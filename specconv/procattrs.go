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
func convertProcAttrs(spec *specs.Spec, c *configs.Config) error {
	a, err := processAttrs(spec.Process)
	if err != nil {
		return err
	}
	if a == nil {
		a = &configs.ProcAttrs{}
	}
	if l := spec.Linux; l != nil {
		if a.Personality, err = convertPersonality(l.Personality); err != nil {
			return err
		}
		if a.MemoryPolicy, err = convertMemoryPolicy(l.MemoryPolicy); err != nil {
			return err
		}
	}
	if *a != (configs.ProcAttrs{}) {
		c.Process.Attrs = a
	}
	return nil
}

// processAttrs converts the attributes that live in process (and so also
// come with `exec --process`); nil when none is set.
func processAttrs(p *specs.Process) (*configs.ProcAttrs, error) {
	if p == nil || (p.Scheduler == nil && p.IOPriority == nil && p.ExecCPUAffinity == nil) {
		return nil, nil
	}
	var a configs.ProcAttrs
	var err error
	if a.Scheduler, err = convertScheduler(p.Scheduler); err != nil {
		return nil, err
	}
	if a.IOPriority, err = convertIOPriority(p.IOPriority); err != nil {
		return nil, err
	}
	if a.ExecCPUAffinity, err = convertCPUAffinity(p.ExecCPUAffinity); err != nil {
		return nil, err
	}
	if a == (configs.ProcAttrs{}) {
		return nil, nil
	}
	return &a, nil
}

func convertScheduler(s *specs.Scheduler) (*configs.Scheduler, error) {
	if s == nil {
		return nil, nil
	}
	const field = "process.scheduler"
	policy, ok := schedPolicies()[s.Policy]
	if !ok {
		if s.Policy == specs.SchedISO {
			return nil, fmt.Errorf("%s.policy: %q is not implemented by Linux", field, s.Policy)
		}
		return nil, fmt.Errorf("%s.policy: unknown policy %q, want one of %s", field, s.Policy, strings.Join(sortedKeys(schedPolicies()), ", "))
	}
	out := &configs.Scheduler{Policy: policy, Name: string(s.Policy)}
	for i, f := range s.Flags {
		bit, ok := schedFlags()[f]
		if !ok {
			return nil, fmt.Errorf("%s.flags[%d]: unknown flag %q, want one of %s", field, i, f, strings.Join(sortedKeys(schedFlags()), ", "))
		}
		out.Flags |= bit
	}
	if s.Nice < -20 || s.Nice > 19 {
		return nil, fmt.Errorf("%s.nice: must be in [-20, 19], got %d", field, s.Nice)
	}
	realtime := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	switch {
	case realtime && (s.Priority < 1 || s.Priority > 99):
		return nil, fmt.Errorf("%s.priority: must be in [1, 99] for %s, got %d", field, s.Policy, s.Priority)
	case !realtime && s.Priority != 0:
		return nil, fmt.Errorf("%s.priority: only SCHED_FIFO and SCHED_RR take a priority, got %d with %s", field, s.Priority, s.Policy)
	}
	out.Nice, out.Priority = s.Nice, uint32(s.Priority)
	if s.Policy != specs.SchedDeadline {
		if s.Runtime != 0 || s.Deadline != 0 || s.Period != 0 {
			return nil, fmt.Errorf("%s: runtime, deadline and period are only for SCHED_DEADLINE, got them with %s", field, s.Policy)
		}
		return out, nil
	}
	// The kernel's own checks (sched_dl_overflow aside), as messages that
	// name the field instead of a bare EINVAL.
	period := s.Period
	if period == 0 {
		period = s.Deadline
	}
	switch {
	case s.Runtime < 1024:
		return nil, fmt.Errorf("%s.runtime: SCHED_DEADLINE needs at least 1024 ns, got %d", field, s.Runtime)
	case s.Deadline < s.Runtime:
		return nil, fmt.Errorf("%s.deadline: must be at least runtime (%d ns), got %d", field, s.Runtime, s.Deadline)
	case period < s.Deadline:
		return nil, fmt.Errorf("%s.period: must be 0 or at least deadline (%d ns), got %d", field, s.Deadline, s.Period)
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
		return nil, fmt.Errorf("process.ioPriority.class: unknown class %q, want one of %s", p.Class, strings.Join(sortedKeys(ioprioClasses()), ", "))
	}
	if p.Priority < 0 || p.Priority > 7 {
		return nil, fmt.Errorf("process.ioPriority.priority: must be in [0, 7], got %d", p.Priority)
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
		return nil, fmt.Errorf("linux.personality.domain: unknown domain %q, want LINUX or LINUX32", p.Domain)
	}
	if len(p.Flags) > 0 {
		return nil, fmt.Errorf("linux.personality.flags[0]: unknown flag %q (the runtime-spec defines none)", p.Flags[0])
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
	var named *namedError
	if err != nil && !errors.As(err, &named) {
		err = fmt.Errorf("invalid memory policy: %w", err)
	}
	return mp, err
}

// namedError is an error already worded with runc's words first.
type namedError struct{ error }

func memoryPolicy(p *specs.LinuxMemoryPolicy) (*configs.MemoryPolicy, error) {
	const field = "linux.memoryPolicy"
	i := slices.IndexFunc(memPolicyModes, func(m memPolicyMode) bool { return m.name == p.Mode })
	if i < 0 {
		return nil, &namedError{fmt.Errorf("invalid memory policy mode %q: %s.mode: want one of %s", p.Mode, field, strings.Join(MemoryPolicyModes(), ", "))}
	}
	out := &configs.MemoryPolicy{Mode: memPolicyModes[i].mode, Name: string(p.Mode)}
	nodes, err := parseList(field+".nodes", "node", p.Nodes, maxNode)
	if err != nil {
		return nil, err
	}
	switch p.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if nodes != nil {
			return nil, fmt.Errorf("%s.nodes: must be empty with %s, got %q", field, p.Mode, p.Nodes)
		}
	case specs.MpolPreferred:
		// An empty set means "local allocation"; more than one node is EINVAL.
		if len(nodes) > 1 || (len(nodes) == 1 && nodes[0].First != nodes[0].Last) {
			return nil, fmt.Errorf("%s.nodes: %s takes at most one node, got %q", field, p.Mode, p.Nodes)
		}
	default:
		if nodes == nil {
			return nil, fmt.Errorf("%s.nodes: %s needs at least one node", field, p.Mode)
		}
	}
	out.Nodes = nodes
	for j, f := range p.Flags {
		k := slices.IndexFunc(memPolicyFlags, func(m memPolicyFlag) bool { return m.name == f })
		if k < 0 {
			return nil, &namedError{fmt.Errorf("invalid memory policy flag %q: %s.flags[%d]: want one of %s", f, field, j, strings.Join(MemoryPolicyFlags(), ", "))}
		}
		out.Mode |= memPolicyFlags[k].flag
	}
	if out.Mode&unix.MPOL_F_STATIC_NODES != 0 && out.Mode&unix.MPOL_F_RELATIVE_NODES != 0 {
		return nil, fmt.Errorf("%s.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other", field)
	}
	if out.Mode&(unix.MPOL_F_STATIC_NODES|unix.MPOL_F_RELATIVE_NODES) != 0 && nodes == nil {
		return nil, fmt.Errorf("%s.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes", field)
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
			return nil, fmt.Errorf("%s: invalid %s list %q: %w", field, what, s, err)
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
