// Package seccomp compiles a configs.Seccomp profile with libseccomp and loads
// it into the calling process; it also hands the notify fd to a seccomp agent.
package seccomp

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// maxArgs is the number of syscall arguments seccomp_data carries.
const maxArgs = 6

// Load builds the filter for c and installs it on every thread of the calling
// process (TSYNC). It returns the seccomp notify fd, or -1 when no rule uses
// SCMP_ACT_NOTIFY. The caller must either hold CAP_SYS_ADMIN or have set
// no_new_privs: Load sets neither, so the process' own setting is respected.
// Every syscall the caller makes afterwards (the Go runtime's included, until
// execve) is filtered too; the notify fd must reach the agent and then be
// closed before execve, or the container could answer its own notifications.
func Load(c *configs.Seccomp) (notifyFd int, err error) {
	if c == nil {
		return -1, errors.New("seccomp: no profile")
	}
	prog, err := Compile(c)
	if err != nil {
		return -1, err
	}
	flags, err := loadFlags(c)
	if err != nil {
		return -1, err
	}
	return install(prog, flags, c.HasNotify())
}

// Compile returns the BPF program Load would install: libseccomp's program
// behind the ENOSYS prelude (see enosys.go).
func Compile(c *configs.Seccomp) ([]unix.SockFilter, error) {
	if err := check(c); err != nil {
		return nil, err
	}
	filter, err := build(c)
	if err != nil {
		return nil, err
	}
	defer filter.Release()
	prog, err := exportBPF(filter)
	if err != nil {
		return nil, err
	}
	arches, err := filterArches(c)
	if err != nil {
		return nil, err
	}
	pre, err := enosysPrelude(c, arches)
	if err != nil {
		return nil, err
	}
	prog = append(pre, prog...)
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: program has %d instructions, the kernel accepts at most %d", len(prog), unix.BPF_MAXINSNS)
	}
	return prog, nil
}

// UnknownSyscalls returns the names in c that libseccomp cannot resolve.
// Load skips them (as runc does: a profile written for a newer kernel must
// still load); the caller may log them at debug level.
func UnknownSyscalls(c *configs.Seccomp) []string {
	var out []string
	for _, s := range c.Syscalls {
		if _, err := libseccomp.GetSyscallFromName(s.Name); err != nil {
			out = append(out, s.Name)
		}
	}
	return out
}

// check repeats the rules specconv enforces that a hand-made config could
// break; a filter that deadlocks or cannot be built must fail here, not later.
func check(c *configs.Seccomp) error {
	if c.DefaultAction == configs.ActNotify {
		return errors.New("seccomp: SCMP_ACT_NOTIFY is not allowed as the default action")
	}
	for _, s := range c.Syscalls {
		if s.Action != configs.ActNotify {
			continue
		}
		for _, r := range configs.SeccompNotifyRefused {
			if s.Name == r {
				return fmt.Errorf("seccomp: SCMP_ACT_NOTIFY is not allowed for %q: the runtime needs it to pass on the notify fd", s.Name)
			}
		}
		if c.ListenerPath == "" {
			return fmt.Errorf("seccomp: SCMP_ACT_NOTIFY rule for %q needs a listenerPath", s.Name)
		}
	}
	return nil
}

func build(c *configs.Seccomp) (*libseccomp.ScmpFilter, error) {
	def, err := action(c.DefaultAction, c.DefaultErrno)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	filter, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp: new filter: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			filter.Release()
		}
	}()
	for _, name := range c.Architectures {
		arch, err := archFromName(name)
		if err != nil {
			return nil, err
		}
		if err := filter.AddArch(arch); err != nil {
			return nil, fmt.Errorf("seccomp: architecture %s: %w", name, err)
		}
	}
	for i := range c.Syscalls {
		if err := addRule(filter, &c.Syscalls[i], def); err != nil {
			return nil, err
		}
	}
	ok = true
	return filter, nil
}

func addRule(filter *libseccomp.ScmpFilter, s *configs.Syscall, def libseccomp.ScmpAction) error {
	nr, err := libseccomp.GetSyscallFromName(s.Name)
	if err != nil {
		return nil // see UnknownSyscalls
	}
	act, err := action(s.Action, s.Errno)
	if err != nil {
		return fmt.Errorf("seccomp: syscall %q: %w", s.Name, err)
	}
	// libseccomp refuses a rule that repeats the default action; it would
	// not change the program anyway.
	if act == def {
		return nil
	}
	if len(s.Args) == 0 {
		if err := filter.AddRule(nr, act); err != nil {
			return fmt.Errorf("seccomp: syscall %q: %w", s.Name, err)
		}
		return nil
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(s.Args))
	var perIndex [maxArgs]int
	for _, a := range s.Args {
		cond, err := condition(a)
		if err != nil {
			return fmt.Errorf("seccomp: syscall %q: %w", s.Name, err)
		}
		perIndex[a.Index]++
		conds = append(conds, cond)
	}
	// Conditions on different arguments are ANDed in one rule. libseccomp
	// cannot AND two conditions on the same argument, so, as runc does, such
	// a rule is split into one rule per condition (ORed).
	split := false
	for _, n := range perIndex {
		split = split || n > 1
	}
	if !split {
		if err := filter.AddRuleConditional(nr, act, conds); err != nil {
			return fmt.Errorf("seccomp: syscall %q: %w", s.Name, err)
		}
		return nil
	}
	for _, cond := range conds {
		if err := filter.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{cond}); err != nil {
			return fmt.Errorf("seccomp: syscall %q: %w", s.Name, err)
		}
	}
	return nil
}

func action(a configs.SeccompAction, errno uint16) (libseccomp.ScmpAction, error) {
	switch a {
	case configs.ActKill, configs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case configs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case configs.ActTrap:
		return libseccomp.ActTrap, nil
	case configs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(int16(errno)), nil
	case configs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(int16(errno)), nil
	case configs.ActAllow:
		return libseccomp.ActAllow, nil
	case configs.ActLog:
		return libseccomp.ActLog, nil
	case configs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", a)
}

// The tables of this package are built on first use: as package-level maps,
// every ocirun command built them at start-up.
var operators = sync.OnceValue(func() map[configs.SeccompOperator]libseccomp.ScmpCompareOp {
	return map[configs.SeccompOperator]libseccomp.ScmpCompareOp{
		configs.OpNotEqual:     libseccomp.CompareNotEqual,
		configs.OpLessThan:     libseccomp.CompareLess,
		configs.OpLessEqual:    libseccomp.CompareLessOrEqual,
		configs.OpEqualTo:      libseccomp.CompareEqual,
		configs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
		configs.OpGreaterThan:  libseccomp.CompareGreater,
		configs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
	}
})

func condition(a configs.SyscallArg) (libseccomp.ScmpCondition, error) {
	op, ok := operators()[a.Op]
	if !ok {
		return libseccomp.ScmpCondition{}, fmt.Errorf("unknown operator %q", a.Op)
	}
	if a.Index >= maxArgs {
		return libseccomp.ScmpCondition{}, fmt.Errorf("argument index %d: must be below %d", a.Index, maxArgs)
	}
	// MASKED_EQ needs both values even when valueTwo is 0 (docker's clone
	// rule is "(flags & CLONE_NEW*) == 0"); other operators ignore it.
	return libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
}

func archFromName(name string) (libseccomp.ScmpArch, error) {
	arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(name, "SCMP_ARCH_"))
	if err != nil || !strings.HasPrefix(name, "SCMP_ARCH_") {
		return libseccomp.ArchInvalid, fmt.Errorf("seccomp: unknown architecture %q", name)
	}
	return arch, nil
}

// filterArches returns the architectures the program accepts: the native
// one, which libseccomp always includes, and those c adds.
func filterArches(c *configs.Seccomp) ([]libseccomp.ScmpArch, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, fmt.Errorf("seccomp: native architecture: %w", err)
	}
	out := []libseccomp.ScmpArch{native}
	for _, name := range c.Architectures {
		arch, err := archFromName(name)
		if err != nil {
			return nil, err
		}
		if arch != native {
			out = append(out, arch)
		}
	}
	return out, nil
}

// LoadProgram installs a program compiled beforehand (EncodeBPF of Compile)
// with c's flags. The parent compiles, so init needs no libseccomp work (and
// no memory for it) after the container's rlimits apply; it returns the
// notify fd as Load does.
func LoadProgram(raw []byte, c *configs.Seccomp) (notifyFd int, err error) {
	prog, err := decodeBPF(raw)
	if err != nil {
		return -1, err
	}
	if len(prog) == 0 {
		return -1, errors.New("seccomp: empty program")
	}
	flags, err := loadFlags(c)
	if err != nil {
		return -1, err
	}
	return install(prog, flags, c.HasNotify())
}
