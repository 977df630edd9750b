package main

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
)

// The `run` figure with a seccomp profile of the size clients send (podman
// and Docker always, Kubernetes with RuntimeDefault): an allowlist of the
// host's syscalls for three architectures, a denylist of the usual admin
// calls, and argument rules for personality and clone. It is generated here
// from the kernel headers, not copied from any client.

// unistdHeader lists the x86-64 syscalls (linux-libc-dev, via libc6-dev).
const unistdHeader = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"

// maxSyscallNr keeps to what libseccomp 2.5 (Debian 12's) knows: the
// runtimes differ on a name it cannot resolve, and that is not measured here.
const maxSyscallNr = 450

var deniedSyscalls = map[string]bool{
	"acct": true, "add_key": true, "bpf": true, "clock_adjtime": true, "clock_settime": true,
	"create_module": true, "delete_module": true, "finit_module": true, "get_kernel_syms": true,
	"init_module": true, "ioperm": true, "iopl": true, "kcmp": true, "kexec_file_load": true,
	"kexec_load": true, "keyctl": true, "lookup_dcookie": true, "mount": true, "move_mount": true,
	"name_to_handle_at": true, "nfsservctl": true, "open_by_handle_at": true, "open_tree": true,
	"perf_event_open": true, "pivot_root": true, "process_vm_readv": true, "process_vm_writev": true,
	"ptrace": true, "query_module": true, "quotactl": true, "reboot": true, "request_key": true,
	"setns": true, "settimeofday": true, "swapoff": true, "swapon": true, "sysfs": true,
	"_sysctl": true, "umount2": true, "unshare": true, "uselib": true, "userfaultfd": true,
	"ustat": true, "vhangup": true, "fsopen": true, "fsmount": true, "fsconfig": true, "fspick": true,
	// allowed below with argument rules
	"personality": true, "clone": true, "clone3": true,
}

// seccompProfile returns linux.seccomp for the bench's configs, or an error
// saying why the phase cannot run on this host.
func seccompProfile() (map[string]any, error) {
	f, err := os.Open(unistdHeader)
	if err != nil {
		return nil, fmt.Errorf("%w (install libc6-dev)", err)
	}
	defer f.Close()
	var allowed []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 || fs[0] != "#define" || !strings.HasPrefix(fs[1], "__NR_") {
			continue
		}
		nr, err := strconv.Atoi(fs[2])
		name := strings.TrimPrefix(fs[1], "__NR_")
		if err != nil || nr > maxSyscallNr || deniedSyscalls[name] {
			continue
		}
		allowed = append(allowed, name)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(allowed) < 200 {
		return nil, errors.New(unistdHeader + ": too few syscalls")
	}
	arg := func(index int, value, valueTwo uint64, op string) map[string]any {
		return map[string]any{"index": index, "value": value, "valueTwo": valueTwo, "op": op}
	}
	const nsFlags = 0x7E020000 // CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
	return map[string]any{
		"defaultAction":   "SCMP_ACT_ERRNO",
		"defaultErrnoRet": 1,
		"architectures":   []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		"syscalls": []any{
			map[string]any{"names": allowed, "action": "SCMP_ACT_ALLOW"},
			map[string]any{"names": []string{"personality"}, "action": "SCMP_ACT_ALLOW", "args": []any{arg(0, 0, 0, "SCMP_CMP_EQ")}},
			map[string]any{"names": []string{"personality"}, "action": "SCMP_ACT_ALLOW", "args": []any{arg(0, 8, 0, "SCMP_CMP_EQ")}},
			map[string]any{"names": []string{"personality"}, "action": "SCMP_ACT_ALLOW", "args": []any{arg(0, 0xffffffff, 0, "SCMP_CMP_EQ")}},
			map[string]any{"names": []string{"clone"}, "action": "SCMP_ACT_ALLOW", "args": []any{arg(0, nsFlags, 0, "SCMP_CMP_MASKED_EQ")}},
			map[string]any{"names": []string{"clone3"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
		},
	}, nil
}

// withSeccomp is tmpl with the profile as linux.seccomp; makeConfig copies
// what it is given, so only the maps changed here are new.
func withSeccomp(tmpl, profile map[string]any) map[string]any {
	linux, _ := tmpl["linux"].(map[string]any)
	linux = maps.Clone(linux)
	if linux == nil {
		linux = map[string]any{}
	}
	linux["seccomp"] = profile
	out := maps.Clone(tmpl)
	out["linux"] = linux
	return out
}

// phaseSeccomp: `run` of busybox true with the profile. The first run of
// each runtime is discarded like phaseRun's warm-ups: ocirun serves the
// compiled program from its cache after it (OCIRUN_SECCOMP_CACHE is in the
// bench's tmpfs), runc and crun compile it every time.
func (e *benchEnv) phaseSeccomp() error {
	profile, err := seccompProfile()
	if err != nil {
		e.res.note("seccomp phase skipped: %v", err)
		return nil
	}
	return e.timeRuns("run with seccomp", "seccomp", withSeccomp(e.tmpl, profile), 1, e.p.Seccomp,
		func(rt *runtime, res result) { e.res.add("seccomp.wall", rt.Name, ms(res.Wall)) })
}
