package seccomp

import (
	"fmt"
	"slices"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// A profile written before a syscall existed sends it to the default action,
// usually EPERM. glibc and others only fall back to an older syscall on
// ENOSYS (clone3 → clone, faccessat2 → faccessat, close_range → close...), so
// an EPERM breaks them. runc rewrites the program to answer ENOSYS for every
// number above the highest one the profile names. ocirun keeps that rule,
// taking as "highest" at least the last syscall of the table below, and adds
// one that does not depend on libseccomp knowing the new syscalls (2.5.4
// does not know half of them): the syscalls of the table answer ENOSYS
// unless the profile names them (with a name libseccomp resolves). Unlike
// runc this also holds for a profile that names some even newer syscall:
// that is deliberate, an EPERM from clone3 is never what such a profile meant.
//
// Since Linux 5.1 (pidfd_send_signal, 424) new syscalls get one number on
// every architecture, offset per ABI (see abis), so one table is enough.
var newSyscalls = []struct {
	name string
	nr   uint32
}{
	{"pidfd_send_signal", 424},
	{"io_uring_setup", 425},
	{"io_uring_enter", 426},
	{"io_uring_register", 427},
	{"open_tree", 428},
	{"move_mount", 429},
	{"fsopen", 430},
	{"fsconfig", 431},
	{"fsmount", 432},
	{"fspick", 433},
	{"pidfd_open", 434},
	{"clone3", 435},
	{"close_range", 436},
	{"openat2", 437},
	{"pidfd_getfd", 438},
	{"faccessat2", 439},
	{"process_madvise", 440},
	{"epoll_pwait2", 441},
	{"mount_setattr", 442},
	{"quotactl_fd", 443},
	{"landlock_create_ruleset", 444},
	{"landlock_add_rule", 445},
	{"landlock_restrict_self", 446},
	{"memfd_secret", 447},
	{"process_mrelease", 448},
	{"futex_waitv", 449},
	{"set_mempolicy_home_node", 450},
	{"cachestat", 451},
	{"fchmodat2", 452},
	{"map_shadow_stack", 453},
	{"futex_wake", 454},
	{"futex_wait", 455},
	{"futex_requeue", 456},
	{"statmount", 457},
	{"listmount", 458},
	{"lsm_get_self_attr", 459},
	{"lsm_set_self_attr", 460},
	{"lsm_list_modules", 461},
	{"mseal", 462},
	{"setxattrat", 463},
	{"getxattrat", 464},
	{"listxattrat", 465},
	{"removexattrat", 466},
	{"open_tree_attr", 467},
}

// abi is how one libseccomp architecture appears in seccomp_data: its
// AUDIT_ARCH_* value and the offset added to the common syscall numbers.
type abi struct {
	audit  uint32
	offset uint32
}

// x32 shares AUDIT_ARCH_X86_64 and sets __X32_SYSCALL_BIT; MIPS numbers
// start at 4000 (o32), 5000 (n64) and 6000 (n32).
var abis = sync.OnceValue(func() map[libseccomp.ScmpArch]abi {
	return map[libseccomp.ScmpArch]abi{
		libseccomp.ArchX86:         {0x40000003, 0},
		libseccomp.ArchAMD64:       {0xc000003e, 0},
		libseccomp.ArchX32:         {0xc000003e, 0x40000000},
		libseccomp.ArchARM:         {0x40000028, 0},
		libseccomp.ArchARM64:       {0xc00000b7, 0},
		libseccomp.ArchMIPS:        {0x00000008, 4000},
		libseccomp.ArchMIPSEL:      {0x40000008, 4000},
		libseccomp.ArchMIPS64:      {0x80000008, 5000},
		libseccomp.ArchMIPSEL64:    {0xc0000008, 5000},
		libseccomp.ArchMIPS64N32:   {0xa0000008, 6000},
		libseccomp.ArchMIPSEL64N32: {0xe0000008, 6000},
		libseccomp.ArchPPC:         {0x00000014, 0},
		libseccomp.ArchPPC64:       {0x80000015, 0},
		libseccomp.ArchPPC64LE:     {0xc0000015, 0},
		libseccomp.ArchS390:        {0x00000016, 0},
		libseccomp.ArchS390X:       {0x80000016, 0},
		libseccomp.ArchPARISC:      {0x0000000f, 0},
		libseccomp.ArchPARISC64:    {0x8000000f, 0},
		libseccomp.ArchRISCV64:     {0xc00000f3, 0},
		libseccomp.ArchLOONGARCH64: {0xc0000102, 0},
		libseccomp.ArchM68K:        {0x00000004, 0},
		libseccomp.ArchSH:          {0x4000002a, 0},
		libseccomp.ArchSHEB:        {0x0000002a, 0},
	}
})

// needsENOSYS reports whether unknown syscalls would otherwise be refused.
// ALLOW and LOG let them through anyway; under TRACE the tracer decides, and
// an ENOSYS would break emulators (runc's reasoning, kept).
func needsENOSYS(a configs.SeccompAction) bool {
	switch a {
	case configs.ActAllow, configs.ActLog, configs.ActTrace:
		return false
	}
	return true
}

// ENOSYSSyscalls returns the syscalls the prelude answers with ENOSYS for c.
func ENOSYSSyscalls(c *configs.Seccomp) []string {
	if !needsENOSYS(c.DefaultAction) {
		return nil
	}
	named := map[string]bool{}
	for _, s := range c.Syscalls {
		if _, err := libseccomp.GetSyscallFromName(s.Name); err == nil {
			named[s.Name] = true
		}
	}
	var out []string
	for _, s := range newSyscalls {
		if !named[s.name] {
			out = append(out, s.name)
		}
	}
	return out
}

// lastNamed is the highest number, for arch, of a syscall the profile
// names; pseudo-numbers (negative) of syscalls the arch lacks do not count.
func lastNamed(c *configs.Seccomp, arch libseccomp.ScmpArch) uint32 {
	var last uint32
	for _, s := range c.Syscalls {
		nr, err := libseccomp.GetSyscallFromNameByArch(s.Name, arch)
		if err == nil && nr >= 0 && uint32(nr) > last {
			last = uint32(nr)
		}
	}
	return last
}

// x32Bit is __X32_SYSCALL_BIT: on AUDIT_ARCH_X86_64, numbers from it up are
// x32's, which libseccomp's program sends to the bad-arch action unless the
// profile adds x32.
const x32Bit = 0x40000000

// enosysPrelude builds, per audit arch, a block that returns ENOSYS for a
// number above every syscall known (the table's last, or a higher one the
// profile names: runc's rule) and for each unnamed new syscall; a mismatch
// of arch or number falls through to libseccomp's program, which starts by
// loading the arch itself, so the prelude leaves no state behind.
//
//	ld  [arch]
//	jeq AUDIT_ARCH, 0, next
//	ld  [nr]
//	jgt last, 0, 1       per ABI: above its last known number...
//	jgt limit-1, 0, enosys   ...and below the next ABI's numbers
//	jeq nr1, enosys, 0   ...
//	ja  program
//	enosys: ret ERRNO|ENOSYS
//	next: (next block)
func enosysPrelude(c *configs.Seccomp, arches []libseccomp.ScmpArch) ([]unix.SockFilter, error) {
	if !needsENOSYS(c.DefaultAction) {
		return nil, nil
	}
	names := ENOSYSSyscalls(c)
	var nrs []uint32
	for _, s := range newSyscalls {
		if slices.Contains(names, s.name) {
			nrs = append(nrs, s.nr)
		}
	}
	last := newSyscalls[len(newSyscalls)-1].nr
	type span struct{ above, limit uint32 } // ENOSYS for above < nr < limit (0: no limit)
	var audits []uint32
	offsets := map[uint32][]uint32{}
	spans := map[uint32][]span{}
	for _, a := range arches {
		x, ok := abis()[a]
		if !ok {
			return nil, fmt.Errorf("seccomp: no syscall numbering known for architecture %s", a)
		}
		if _, seen := offsets[x.audit]; !seen {
			audits = append(audits, x.audit)
		}
		offsets[x.audit] = append(offsets[x.audit], x.offset)
		sp := span{above: max(last+x.offset, lastNamed(c, a))}
		if x.offset == 0 && x.audit == abis()[libseccomp.ArchAMD64].audit {
			sp.limit = x32Bit
		}
		spans[x.audit] = append(spans[x.audit], sp)
	}
	const (
		offNr   = 0 // offsetof(struct seccomp_data, nr)
		offArch = 4 // offsetof(struct seccomp_data, arch)
	)
	var blocks [][]unix.SockFilter
	for _, audit := range audits {
		// toRet marks the instructions whose Jt or Jf is the ret below.
		var body []unix.SockFilter
		var toRetT, toRetF []int
		for _, sp := range spans[audit] {
			limit := uint32(0xffffffff) // nr > 0xffffffff is never true
			if sp.limit != 0 {
				limit = sp.limit - 1
			}
			body = append(body,
				unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, K: sp.above, Jf: 1},
				unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, K: limit})
			toRetF = append(toRetF, len(body)-1)
		}
		for _, off := range offsets[audit] {
			for _, nr := range nrs {
				body = append(body, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: nr + off})
				toRetT = append(toRetT, len(body)-1)
			}
		}
		// After the body: ja, then ret.
		if len(body)+3 > 255 {
			return nil, fmt.Errorf("seccomp: ENOSYS prelude too long for one jump (%d instructions)", len(body))
		}
		for _, i := range toRetT {
			body[i].Jt = uint8(len(body) - i) // over the rest of the body and the ja
		}
		for _, i := range toRetF {
			body[i].Jf = uint8(len(body) - i)
		}
		block := []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offArch},
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: audit, Jf: uint8(len(body) + 3)},
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offNr},
		}
		block = append(block, body...)
		block = append(block,
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA}, // K: patched below
			unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		)
		blocks = append(blocks, block)
	}
	var total int
	for _, b := range blocks {
		total += len(b)
	}
	var pre []unix.SockFilter
	for _, b := range blocks {
		start := len(pre)
		pre = append(pre, b...)
		ja := start + len(b) - 2
		pre[ja].K = uint32(total - ja - 1)
	}
	return pre, nil
}
