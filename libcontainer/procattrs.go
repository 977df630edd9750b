package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// Every attribute here belongs to the calling thread, not the process: init
// runs on one locked thread and execve keeps that thread's personality,
// scheduling, I/O priority, affinity and memory policy for the user program.

// applyEarlyAttrs sets the personality, the scheduling policy and the I/O
// priority. It runs after no_new_privs and before the final capability
// sets: SCHED_FIFO/RR/DEADLINE, a negative nice and IOPRIO_CLASS_RT need
// CAP_SYS_NICE or CAP_SYS_ADMIN, which the container may not keep.
func applyEarlyAttrs(p *configs.Process) error {
	a := p.Attrs
	if a == nil {
		return nil
	}
	if per := a.Personality; per != nil {
		if _, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(per.Domain), 0, 0); errno != 0 {
			return fmt.Errorf("linux.personality: %w", os.NewSyscallError("personality("+per.Name+")", errno))
		}
	}
	if s := a.Scheduler; s != nil {
		attr := unix.SchedAttr{
			Policy:   s.Policy,
			Flags:    s.Flags,
			Nice:     s.Nice,
			Priority: s.Priority,
			Runtime:  s.Runtime,
			Deadline: s.Deadline,
			Period:   s.Period,
		}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			return fmt.Errorf("process.scheduler: %w%s", os.NewSyscallError("sched_setattr("+s.Name+")", err), schedHint(s, err))
		}
	}
	if io := a.IOPriority; io != nil {
		if _, _, errno := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(io.Value())); errno != 0 {
			return fmt.Errorf("process.ioPriority: %w", os.NewSyscallError(fmt.Sprintf("ioprio_set(%s, %d)", ioprioClassName(io.Class), io.Priority), errno))
		}
	}
	return nil
}

// applyFinalAttrs sets the final CPU affinity and the NUMA memory policy,
// just before execve: both are inherited across it, and the affinity must be
// set after the move into the container's cgroup (on cgroup v1, joining a
// cpuset resets it).
func applyFinalAttrs(p *configs.Process) error {
	a := p.Attrs
	if a == nil {
		return nil
	}
	if aff := a.CPUAffinity; aff != nil && aff.Final != nil {
		if err := setAffinity(0, aff.Final); err != nil {
			return fmt.Errorf("process.execCPUAffinity.final: %w", err)
		}
	}
	if mp := a.MemoryPolicy; mp != nil {
		if err := setMemPolicy(mp); err != nil {
			return err
		}
	}
	return nil
}

// setInitialAffinity pins a just-started `ocirun init` (still one thread,
// blocked in the C stage) to the initial CPUs of its exec affinity, before
// it moves into the container's cgroup; whatever it forks inherits them.
func setInitialAffinity(pid int, a *configs.ProcAttrs) error {
	if a == nil || a.CPUAffinity == nil || a.CPUAffinity.Initial == nil {
		return nil
	}
	if err := setAffinity(pid, a.CPUAffinity.Initial); err != nil {
		return fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	return nil
}

// resetAffinity widens a just-started init, now in its cgroup, to every
// CPU: the kernel keeps those of the cgroup's cpuset, so the container does
// not inherit the runtime's own pinning (taskset, a CPU-pinned shim). runc
// 1.4 does the same. Not when execCPUAffinity.initial is set: the runtime-spec
// leaves the affinity after the move to the kernel then, where runc resets
// it; ocirun follows the spec. A failure only costs the old affinity.
func resetAffinity(pid int, a *configs.ProcAttrs, log *slog.Logger) {
	if a != nil && a.CPUAffinity != nil && a.CPUAffinity.Initial != nil {
		return
	}
	var all unix.CPUSet
	for i := range all {
		all[i] = ^all[i]
	}
	if err := unix.SchedSetaffinity(pid, &all); err != nil {
		log.Debug("reset the CPU affinity of init", "pid", pid, "error", err)
	}
}

func setAffinity(pid int, cpus []configs.Range) error {
	set := unix.NewCPUSet(int(maxRange(cpus)) + 1)
	for _, r := range cpus {
		for c := r.First; c <= r.Last; c++ {
			set.Set(int(c))
		}
	}
	if err := unix.SchedSetaffinityDynamic(pid, set); err != nil {
		err = os.NewSyscallError("sched_setaffinity", err)
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("%w (no CPU of the list is online and in the container's cpuset)", err)
		}
		return err
	}
	return nil
}

func setMemPolicy(mp *configs.MemoryPolicy) error {
	var mask []uint64
	if len(mp.Nodes) > 0 {
		mask = make([]uint64, maxRange(mp.Nodes)/64+1)
		for _, r := range mp.Nodes {
			for n := r.First; n <= r.Last; n++ {
				mask[n/64] |= 1 << (n % 64)
			}
		}
	}
	var ptr unsafe.Pointer
	if len(mask) > 0 {
		ptr = unsafe.Pointer(&mask[0])
	}
	// maxnode counts bits and the kernel reads one fewer than it is given
	// (get_nodes: --maxnode), hence the +1. Not unix.SetMemPolicyDynamic:
	// it passes the mask's size in bytes as maxnode.
	maxnode := uintptr(len(mask)*64 + 1)
	_, _, errno := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mp.Mode), uintptr(ptr), maxnode)
	if errno == 0 {
		return nil
	}
	err := os.NewSyscallError("set_mempolicy("+mp.Name+")", errno)
	if errno == unix.EINVAL {
		return fmt.Errorf("linux.memoryPolicy: %w (a mode or flag this kernel lacks, or nodes outside the container's cpuset.mems)", err)
	}
	return fmt.Errorf("linux.memoryPolicy: %w", err)
}

func maxRange(rs []configs.Range) uint32 {
	var m uint32
	for _, r := range rs {
		m = max(m, r.Last)
	}
	return m
}

// schedHint explains the EPERM most people meet with a real-time policy:
// with RT group scheduling (cgroup v1 cpu controller) a new cgroup has no
// real-time budget until linux.resources.cpu.realtimeRuntime gives it one.
func schedHint(s *configs.Scheduler, err error) string {
	rt := s.Policy == unix.SCHED_FIFO || s.Policy == unix.SCHED_RR
	if !rt || !errors.Is(err, unix.EPERM) {
		return ""
	}
	return " (needs CAP_SYS_NICE, and with cgroup v1 RT group scheduling a cpu.rt_runtime_us > 0: linux.resources.cpu.realtimeRuntime)"
}

const ioprioWhoProcess = 1 // IOPRIO_WHO_PROCESS

func ioprioClassName(class int) string {
	switch class {
	case 1:
		return "IOPRIO_CLASS_RT"
	case 2:
		return "IOPRIO_CLASS_BE"
	case 3:
		return "IOPRIO_CLASS_IDLE"
	}
	return fmt.Sprintf("class %d", class)
}
