package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// ProcAttrs is what `probe procattrs` prints: the kernel attributes a runtime
// sets with process.scheduler, ioPriority, execCPUAffinity and
// linux.personality, memoryPolicy. Mirrored in tests/integration.
type ProcAttrs struct {
	SchedPolicy uint32            `json:"schedPolicy"`
	SchedFlags  uint64            `json:"schedFlags"`
	Nice        int32             `json:"nice"`
	Priority    uint32            `json:"priority"`
	Runtime     uint64            `json:"runtime"`
	Deadline    uint64            `json:"deadline"`
	Period      uint64            `json:"period"`
	IOPrio      int               `json:"ioprio"`      // ioprio_get(IOPRIO_WHO_PROCESS): class<<13 | level
	Personality int               `json:"personality"` // personality(0xffffffff)
	Machine     string            `json:"machine"`     // uname -m
	CpusAllowed string            `json:"cpusAllowed"` // Cpus_allowed_list of /proc/self/status
	NumaPolicy  string            `json:"numaPolicy"`  // policy of the first /proc/self/numa_maps line
	Errors      map[string]string `json:"errors,omitempty"`
}

// cmdProcAttrs reads the attributes of the main thread (the one execve
// started; later threads may differ, e.g. with SCHED_FLAG_RESET_ON_FORK).
func cmdProcAttrs() {
	pid := os.Getpid()
	r := ProcAttrs{Errors: map[string]string{}}
	if a, err := unix.SchedGetAttr(pid, 0); err != nil {
		r.Errors["sched_getattr"] = err.Error()
	} else {
		r.SchedPolicy, r.SchedFlags, r.Nice, r.Priority = a.Policy, a.Flags, a.Nice, a.Priority
		r.Runtime, r.Deadline, r.Period = a.Runtime, a.Deadline, a.Period
	}
	const ioprioWhoProcess = 1
	if v, _, errno := unix.RawSyscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(pid), 0); errno != 0 {
		r.Errors["ioprio_get"] = errno.Error()
	} else {
		r.IOPrio = int(v)
	}
	// Persona is copied to every thread at clone, so any thread answers.
	if v, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0); errno != 0 {
		r.Errors["personality"] = errno.Error()
	} else {
		r.Personality = int(v)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		r.Errors["uname"] = err.Error()
	} else {
		r.Machine = unix.ByteSliceToString(u.Machine[:])
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err != nil {
		r.Errors["status"] = err.Error()
	} else {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				r.CpusAllowed = strings.TrimSpace(v)
			}
		}
	}
	// Without a policy of its own a mapping shows the task's policy.
	if f, err := os.Open(fmt.Sprintf("/proc/%d/numa_maps", pid)); err != nil {
		r.Errors["numa_maps"] = err.Error()
	} else {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			// "ADDR POLICY KEY=VALUE...", where POLICY may hold spaces
			// ("weighted interleave:0", "prefer (many):0").
			_, r.NumaPolicy, _ = strings.Cut(sc.Text(), " ")
		}
		f.Close()
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fatalf("procattrs: %v", err)
	}
}
