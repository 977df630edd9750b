package specconv

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func convertSeccomp(l *specs.Linux, c *configs.Config) error {
	s, err := Seccomp(l.Seccomp)
	if err != nil {
		return err
	}
	c.Process.Seccomp = s
	return nil
}

// Seccomp validates linux.seccomp and normalizes it: one rule per syscall
// name, errno defaults (EPERM) filled in. A profile with neither a default
// action nor rules means no filter (nil), as runc reads it.
func Seccomp(in *specs.LinuxSeccomp) (*configs.Seccomp, error) {
	if in == nil || (in.DefaultAction == "" && len(in.Syscalls) == 0) {
		return nil, nil
	}
	const field = "linux.seccomp"
	def, err := seccompAction(field+".defaultAction", in.DefaultAction)
	if err != nil {
		return nil, err
	}
	if def == configs.ActNotify {
		return nil, errors.New(field + ".defaultAction: SCMP_ACT_NOTIFY is not allowed as the default action")
	}
	out := &configs.Seccomp{
		DefaultAction:    def,
		ListenerPath:     in.ListenerPath,
		ListenerMetadata: in.ListenerMetadata,
	}
	out.DefaultErrno, err = seccompErrno(field+".defaultErrnoRet", def, in.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	for i, a := range in.Architectures {
		if !slices.Contains(configs.SeccompArchs, string(a)) {
			return nil, fmt.Errorf("%s.architectures[%d]: unknown architecture %q", field, i, a)
		}
		out.Architectures = append(out.Architectures, string(a))
	}
	for i, f := range in.Flags {
		if !slices.Contains(configs.SeccompFlags, string(f)) {
			return nil, fmt.Errorf("%s.flags[%d]: unknown flag %q, want one of %s", field, i, f, strings.Join(configs.SeccompFlags, ", "))
		}
		out.Flags = append(out.Flags, string(f))
	}
	if in.ListenerPath != "" {
		if err := checkAbs(field+".listenerPath", in.ListenerPath); err != nil {
			return nil, err
		}
		// sun_path holds 108 bytes including the terminating NUL.
		if len(in.ListenerPath) >= len(unix.RawSockaddrUnix{}.Path) {
			return nil, fmt.Errorf("%s.listenerPath: %q is longer than a unix socket path can be (%d bytes)", field, in.ListenerPath, len(unix.RawSockaddrUnix{}.Path)-1)
		}
	}
	for i, sc := range in.Syscalls {
		rules, err := seccompSyscall(fmt.Sprintf("%s.syscalls[%d]", field, i), sc, in.ListenerPath)
		if err != nil {
			return nil, err
		}
		out.Syscalls = append(out.Syscalls, rules...)
	}
	return out, nil
}

func seccompSyscall(field string, in specs.LinuxSyscall, listener string) ([]configs.Syscall, error) {
	if len(in.Names) == 0 {
		return nil, errors.New(field + ".names: must not be empty")
	}
	act, err := seccompAction(field+".action", in.Action)
	if err != nil {
		return nil, err
	}
	errno, err := seccompErrno(field+".errnoRet", act, in.ErrnoRet)
	if err != nil {
		return nil, err
	}
	if act == configs.ActNotify && listener == "" {
		return nil, fmt.Errorf("%s.action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath", field)
	}
	var args []configs.SyscallArg
	for j, a := range in.Args {
		f := fmt.Sprintf("%s.args[%d]", field, j)
		op := configs.SeccompOperator(a.Op)
		if !slices.Contains(configs.SeccompOperators, op) {
			return nil, fmt.Errorf("%s.op: unknown operator %q", f, a.Op)
		}
		if a.Index >= 6 {
			return nil, fmt.Errorf("%s.index: syscalls have 6 arguments (0-5), got %d", f, a.Index)
		}
		args = append(args, configs.SyscallArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: op})
	}
	out := make([]configs.Syscall, 0, len(in.Names))
	for j, name := range in.Names {
		if name == "" || strings.ContainsAny(name, "\x00 ") {
			return nil, fmt.Errorf("%s.names[%d]: invalid syscall name %q", field, j, name)
		}
		if act == configs.ActNotify && slices.Contains(configs.SeccompNotifyRefused, name) {
			return nil, fmt.Errorf("%s.names[%d]: SCMP_ACT_NOTIFY is not allowed for %q: the runtime needs it to pass on the notify fd", field, j, name)
		}
		out = append(out, configs.Syscall{Name: name, Action: act, Errno: errno, Args: slices.Clone(args)})
	}
	return out, nil
}

func seccompAction(field string, a specs.LinuxSeccompAction) (configs.SeccompAction, error) {
	act := configs.SeccompAction(a)
	if !slices.Contains(configs.SeccompActions, act) {
		return "", fmt.Errorf("%s: unknown action %q", field, a)
	}
	return act, nil
}

// seccompErrno applies the spec's rules: errnoRet only for actions that
// return one (the runtime MUST fail otherwise), EPERM when absent.
func seccompErrno(field string, act configs.SeccompAction, ret *uint) (uint16, error) {
	if ret == nil {
		if act.TakesErrno() {
			return uint16(unix.EPERM), nil
		}
		return 0, nil
	}
	if !act.TakesErrno() {
		return 0, fmt.Errorf("%s: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s", field, act)
	}
	// SECCOMP_RET_DATA is 16 bits wide.
	if *ret > 0xffff {
		return 0, fmt.Errorf("%s: must be at most 65535, got %d", field, *ret)
	}
	return uint16(*ret), nil
}
