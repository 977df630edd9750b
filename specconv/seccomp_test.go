package specconv

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestSeccomp(t *testing.T) {
	allow := specs.ActAllow
	tests := []struct {
		name    string
		in      *specs.LinuxSeccomp
		want    *configs.Seccomp
		wantErr string
	}{
		{name: "absent", in: nil, want: nil},
		{name: "empty means no filter, as runc", in: &specs.LinuxSeccomp{}, want: nil},
		{
			name: "full profile",
			in: &specs.LinuxSeccomp{
				DefaultAction:    specs.ActErrno,
				Architectures:    []specs.Arch{specs.ArchX86_64, specs.ArchX86},
				Flags:            []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
				ListenerPath:     "/run/agent.sock",
				ListenerMetadata: "meta",
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"read", "write"}, Action: allow},
					{Names: []string{"mkdirat"}, Action: specs.ActNotify},
					{Names: []string{"ptrace"}, Action: specs.ActTrace},
					{Names: []string{"getcwd"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(18))},
					{Names: []string{"personality"}, Action: allow, Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo},
					}},
					{Names: []string{"clone"}, Action: allow, Args: []specs.LinuxSeccompArg{
						{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: specs.OpMaskedEqual},
					}},
				},
			},
			want: &configs.Seccomp{
				DefaultAction:    configs.ActErrno,
				DefaultErrno:     1,
				Architectures:    []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"},
				Flags:            []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"},
				ListenerPath:     "/run/agent.sock",
				ListenerMetadata: "meta",
				Syscalls: []configs.Syscall{
					{Name: "read", Action: configs.ActAllow},
					{Name: "write", Action: configs.ActAllow},
					{Name: "mkdirat", Action: configs.ActNotify},
					{Name: "ptrace", Action: configs.ActTrace, Errno: 1},
					{Name: "getcwd", Action: configs.ActErrno, Errno: 18},
					{Name: "personality", Action: configs.ActAllow, Args: []configs.SyscallArg{{Index: 0, Value: 0xffffffff, Op: configs.OpEqualTo}}},
					{Name: "clone", Action: configs.ActAllow, Args: []configs.SyscallArg{{Index: 0, Value: 0x7e020000, Op: configs.OpMaskedEqual}}},
				},
			},
		},
		{
			name: "defaultErrnoRet",
			in:   &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(38))},
			want: &configs.Seccomp{DefaultAction: configs.ActErrno, DefaultErrno: 38},
		},
		{
			name:    "only rules: default action still required",
			in:      &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: allow}}},
			wantErr: `linux.seccomp.defaultAction: unknown action ""`,
		},
		{
			name:    "unknown default action",
			in:      &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"},
			wantErr: `linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE"`,
		},
		{
			name:    "notify as default",
			in:      &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/run/a.sock"},
			wantErr: "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not allowed as the default action",
		},
		{
			name:    "defaultErrnoRet with allow",
			in:      &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: ptr(uint(1))},
			wantErr: "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW",
		},
		{
			name: "errnoRet with kill",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: specs.ActKillProcess, ErrnoRet: ptr(uint(1))},
			}},
			wantErr: "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL_PROCESS",
		},
		{
			name: "errnoRet too large",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(70000))},
			}},
			wantErr: "linux.seccomp.syscalls[0].errnoRet: must be at most 65535, got 70000",
		},
		{
			name:    "unknown arch",
			in:      &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_VAX"}},
			wantErr: `linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"`,
		},
		{
			name:    "unknown flag",
			in:      &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC_ESRCH"}},
			wantErr: `linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"`,
		},
		{
			name:    "relative listenerPath",
			in:      &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "agent.sock"},
			wantErr: `linux.seccomp.listenerPath: must be an absolute path, got "agent.sock"`,
		},
		{
			name:    "listenerPath too long",
			in:      &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/" + strings.Repeat("a", 107)},
			wantErr: "linux.seccomp.listenerPath: ",
		},
		{
			name: "notify without listener",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: allow},
				{Names: []string{"mkdirat"}, Action: specs.ActNotify},
			}},
			wantErr: "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
		},
		{
			name: "notify on write",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/a.sock", Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdirat", "write"}, Action: specs.ActNotify},
			}},
			wantErr: `linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY is not allowed for "write"`,
		},
		{
			name: "no names",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Action: specs.ActErrno},
			}},
			wantErr: "linux.seccomp.syscalls[0].names: must not be empty",
		},
		{
			name: "empty name",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", ""}, Action: specs.ActErrno},
			}},
			wantErr: `linux.seccomp.syscalls[0].names[1]: invalid syscall name ""`,
		},
		{
			name: "unknown rule action",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: "SCMP_ACT_NOPE"},
			}},
			wantErr: `linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_NOPE"`,
		},
		{
			name: "unknown operator",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_XOR"}}},
			}},
			wantErr: `linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_XOR"`,
		},
		{
			name: "argument index out of range",
			in: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}},
			}},
			wantErr: "linux.seccomp.syscalls[0].args[0].index: syscalls have 6 arguments (0-5), got 6",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Seccomp(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestToConfigSeccomp(t *testing.T) {
	spec := Example()
	spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "exit_group"}, Action: specs.ActAllow}},
	}
	c, err := ToConfig(spec, Options{Bundle: newBundle(t)})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Process.Seccomp
	if s == nil || s.DefaultAction != configs.ActErrno || len(s.Syscalls) != 2 || s.Syscalls[1].Name != "exit_group" {
		t.Fatalf("Process.Seccomp = %+v", s)
	}
	// The config owns its data: exec may reuse the spec.
	spec.Linux.Seccomp.Syscalls[0].Names[0] = "write"
	if s.Syscalls[0].Name != "read" {
		t.Error("config aliases the spec")
	}

	spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActNotify}
	if _, err := ToConfig(spec, Options{Bundle: newBundle(t)}); err == nil ||
		err.Error() != "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not allowed as the default action" {
		t.Errorf("err = %v", err)
	}
}
