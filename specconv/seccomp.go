package specconv

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func convertSeccomp(l *specs.Linux, c *configs.Config, ps *problem.List) {
	c.Process.Seccomp = seccomp(l.Seccomp, ps)
}

// Seccomp validates linux.seccomp and normalizes it: one rule per syscall
// name, errno defaults (EPERM) filled in. A profile with neither a default
// action nor rules means no filter (nil), as runc reads it.
func Seccomp(in *specs.LinuxSeccomp) (*configs.Seccomp, error) {
	var ps problem.List
	out := seccomp(in, &ps)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func seccomp(in *specs.LinuxSeccomp, ps *problem.List) *configs.Seccomp {
	if in == nil || (in.DefaultAction == "" && len(in.Syscalls) == 0) {
		return nil
	}
	const field = "linux.seccomp"
	n := len(*ps)
	def, ok := seccompAction(field+".defaultAction", in.DefaultAction, ps)
	if ok && def == configs.ActNotify {
		ps.Errorf(field+".defaultAction", string(def), "notify only chosen syscalls; the default must let the runtime's own calls through",
			"SCMP_ACT_NOTIFY is not allowed as the default action")
	}
	out := &configs.Seccomp{
		DefaultAction:    def,
		ListenerPath:     in.ListenerPath,
		ListenerMetadata: in.ListenerMetadata,
	}
	if ok {
		out.DefaultErrno = seccompErrno(field+".defaultErrnoRet", def, in.DefaultErrnoRet, ps)
	}
	for i, a := range in.Architectures {
		if !slices.Contains(configs.SeccompArchs, string(a)) {
			ps.Errorf(fmt.Sprintf("%s.architectures[%d]", field, i), string(a), "want one of "+strings.Join(configs.SeccompArchs, ", "), "unknown architecture %s", problem.Q(string(a)))
			continue
		}
		out.Architectures = append(out.Architectures, string(a))
	}
	for i, f := range in.Flags {
		if !slices.Contains(configs.SeccompFlags, string(f)) {
			ps.Errorf(fmt.Sprintf("%s.flags[%d]", field, i), string(f), "want one of "+strings.Join(configs.SeccompFlags, ", "),
				"unknown flag %s, want one of %s", problem.Q(string(f)), strings.Join(configs.SeccompFlags, ", "))
			continue
		}
		out.Flags = append(out.Flags, string(f))
	}
	if in.ListenerPath != "" {
		if p := checkAbs(field+".listenerPath", in.ListenerPath); p != nil {
			ps.Add(p)
		} else if max := len(unix.RawSockaddrUnix{}.Path) - 1; len(in.ListenerPath) > max {
			// sun_path holds 108 bytes including the terminating NUL.
			ps.Errorf(field+".listenerPath", in.ListenerPath, fmt.Sprintf("a unix socket path has at most %d bytes: put the socket in a shorter directory", max),
				"%s is longer than a unix socket path can be (%d bytes)", problem.Q(in.ListenerPath), max)
		}
	}
	for i, sc := range in.Syscalls {
		out.Syscalls = append(out.Syscalls, seccompSyscall(fmt.Sprintf("%s.syscalls[%d]", field, i), sc, in.ListenerPath, ps)...)
	}
	if len(*ps) > n {
		return nil
	}
	return out
}

func seccompSyscall(field string, in specs.LinuxSyscall, listener string, ps *problem.List) []configs.Syscall {
	n := len(*ps)
	if len(in.Names) == 0 {
		ps.Errorf(field+".names", nil, `list the syscalls the rule is for, e.g. ["mount", "umount2"]`, "must not be empty")
	}
	act, ok := seccompAction(field+".action", in.Action, ps)
	var errno uint16
	if ok {
		errno = seccompErrno(field+".errnoRet", act, in.ErrnoRet, ps)
		if act == configs.ActNotify && listener == "" {
			ps.Errorf(field+".action", string(act), "set linux.seccomp.listenerPath to the socket of the program that handles the notifications",
				"SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
		}
	}
	var args []configs.SyscallArg
	for j, a := range in.Args {
		f := fmt.Sprintf("%s.args[%d]", field, j)
		op := configs.SeccompOperator(a.Op)
		if !slices.Contains(configs.SeccompOperators, op) {
			ops := make([]string, len(configs.SeccompOperators))
			for k, o := range configs.SeccompOperators {
				ops[k] = string(o)
			}
			ps.Errorf(f+".op", string(a.Op), "want one of "+strings.Join(ops, ", "), "unknown operator %s", problem.Q(string(a.Op)))
		}
		if a.Index >= 6 {
			ps.Errorf(f+".index", a.Index, "syscall arguments are numbered 0 to 5", "syscalls have 6 arguments (0-5), got %d", a.Index)
		}
		args = append(args, configs.SyscallArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: op})
	}
	out := make([]configs.Syscall, 0, len(in.Names))
	for j, name := range in.Names {
		if name == "" || strings.ContainsAny(name, "\x00 ") {
			ps.Errorf(fmt.Sprintf("%s.names[%d]", field, j), name, "a syscall name as in the kernel's tables, e.g. \"mount\"", "invalid syscall name %s", problem.Q(name))
			continue
		}
		if act == configs.ActNotify && slices.Contains(configs.SeccompNotifyRefused, name) {
			ps.Errorf(fmt.Sprintf("%s.names[%d]", field, j), name, "give the syscall another action",
				"SCMP_ACT_NOTIFY is not allowed for %q: the runtime needs it to pass on the notify fd", name)
			continue
		}
		out = append(out, configs.Syscall{Name: name, Action: act, Errno: errno, Args: slices.Clone(args)})
	}
	if len(*ps) > n {
		return nil
	}
	return out
}

func seccompAction(field string, a specs.LinuxSeccompAction, ps *problem.List) (configs.SeccompAction, bool) {
	act := configs.SeccompAction(a)
	if !slices.Contains(configs.SeccompActions, act) {
		acts := make([]string, len(configs.SeccompActions))
		for i, x := range configs.SeccompActions {
			acts[i] = string(x)
		}
		ps.Errorf(field, string(a), "want one of "+strings.Join(acts, ", "), "unknown action %s", problem.Q(string(a)))
		return "", false
	}
	return act, true
}

// seccompErrno applies the spec's rules: errnoRet only for actions that
// return one (the runtime MUST fail otherwise), EPERM when absent.
func seccompErrno(field string, act configs.SeccompAction, ret *uint, ps *problem.List) uint16 {
	if ret == nil {
		if act.TakesErrno() {
			return uint16(unix.EPERM)
		}
		return 0
	}
	if !act.TakesErrno() {
		ps.Errorf(field, *ret, "leave errnoRet out, or use SCMP_ACT_ERRNO or SCMP_ACT_TRACE", "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s", act)
		return 0
	}
	// SECCOMP_RET_DATA is 16 bits wide.
	if *ret > 0xffff {
		ps.Errorf(field, *ret, "the kernel passes 16 bits of errno", "must be at most 65535, got %d", *ret)
		return 0
	}
	return uint16(*ret)
}
