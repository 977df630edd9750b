package configs

// Seccomp is a validated linux.seccomp profile: one Syscall per name, errno
// defaults resolved (EPERM), names kept as the runtime-spec spells them so a
// dumped config stays readable and the loader maps them once.
type Seccomp struct {
	DefaultAction SeccompAction `json:"defaultAction"`
	// DefaultErrno is what an ERRNO or TRACE default action returns.
	DefaultErrno uint16 `json:"defaultErrno,omitempty"`
	// Architectures are SCMP_ARCH_* names added to the native one.
	Architectures []string `json:"architectures,omitempty"`
	// Flags are SECCOMP_FILTER_FLAG_* names from the spec.
	Flags            []string  `json:"flags,omitempty"`
	ListenerPath     string    `json:"listenerPath,omitempty"`
	ListenerMetadata string    `json:"listenerMetadata,omitempty"`
	Syscalls         []Syscall `json:"syscalls,omitempty"`
}

// Syscall is one rule: Name matched with Action when every Arg matches.
type Syscall struct {
	Name   string        `json:"name"`
	Action SeccompAction `json:"action"`
	// Errno is what an ERRNO or TRACE action returns; other actions ignore it.
	Errno uint16       `json:"errno,omitempty"`
	Args  []SyscallArg `json:"args,omitempty"`
}

// SyscallArg compares argument Index with Value (SCMP_CMP_MASKED_EQ:
// (arg & Value) == ValueTwo).
type SyscallArg struct {
	Index    uint            `json:"index"`
	Value    uint64          `json:"value"`
	ValueTwo uint64          `json:"valueTwo,omitempty"`
	Op       SeccompOperator `json:"op"`
}

// SeccompAction is an SCMP_ACT_* name.
type SeccompAction string

// Seccomp actions, as in the runtime-spec.
const (
	ActKill        SeccompAction = "SCMP_ACT_KILL"
	ActKillProcess SeccompAction = "SCMP_ACT_KILL_PROCESS"
	ActKillThread  SeccompAction = "SCMP_ACT_KILL_THREAD"
	ActTrap        SeccompAction = "SCMP_ACT_TRAP"
	ActErrno       SeccompAction = "SCMP_ACT_ERRNO"
	ActTrace       SeccompAction = "SCMP_ACT_TRACE"
	ActAllow       SeccompAction = "SCMP_ACT_ALLOW"
	ActLog         SeccompAction = "SCMP_ACT_LOG"
	ActNotify      SeccompAction = "SCMP_ACT_NOTIFY"
)

// SeccompActions lists every action ocirun accepts.
var SeccompActions = []SeccompAction{
	ActKill, ActKillProcess, ActKillThread, ActTrap, ActErrno,
	ActTrace, ActAllow, ActLog, ActNotify,
}

// TakesErrno reports whether errnoRet means something for a.
func (a SeccompAction) TakesErrno() bool { return a == ActErrno || a == ActTrace }

// SeccompOperator is an SCMP_CMP_* name.
type SeccompOperator string

// Seccomp argument operators, as in the runtime-spec.
const (
	OpNotEqual     SeccompOperator = "SCMP_CMP_NE"
	OpLessThan     SeccompOperator = "SCMP_CMP_LT"
	OpLessEqual    SeccompOperator = "SCMP_CMP_LE"
	OpEqualTo      SeccompOperator = "SCMP_CMP_EQ"
	OpGreaterEqual SeccompOperator = "SCMP_CMP_GE"
	OpGreaterThan  SeccompOperator = "SCMP_CMP_GT"
	OpMaskedEqual  SeccompOperator = "SCMP_CMP_MASKED_EQ"
)

// SeccompOperators lists every operator ocirun accepts.
var SeccompOperators = []SeccompOperator{
	OpNotEqual, OpLessThan, OpLessEqual, OpEqualTo,
	OpGreaterEqual, OpGreaterThan, OpMaskedEqual,
}

// SeccompArchs lists the SCMP_ARCH_* names of the runtime-spec.
var SeccompArchs = []string{
	"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
	"SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
	"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
	"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
	"SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
	"SCMP_ARCH_S390", "SCMP_ARCH_S390X",
	"SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
	"SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
	"SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
}

// Seccomp filter flags, as in the runtime-spec.
const (
	SeccompFlagTsync            = "SECCOMP_FILTER_FLAG_TSYNC"
	SeccompFlagLog              = "SECCOMP_FILTER_FLAG_LOG"
	SeccompFlagSpecAllow        = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
	SeccompFlagWaitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
)

// SeccompFlags lists every filter flag ocirun accepts, in the order runc
// 1.4's `features` reports them. WAIT_KILLABLE_RECV is in the runtime-spec's
// list but not runc's: ocirun follows the spec and keeps it, last.
var SeccompFlags = []string{SeccompFlagTsync, SeccompFlagSpecAllow, SeccompFlagLog, SeccompFlagWaitKillableRecv}

// SeccompNotifyRefused are syscalls a NOTIFY rule may not catch: after
// loading the filter the init still hands the notify fd to the parent
// (sendmsg) and reports over its sockets (write). Had either to wait for the
// agent, which only gets the fd through those very calls, the container would
// deadlock. runc refuses write for the same reason.
var SeccompNotifyRefused = []string{"write", "sendmsg"}

// HasNotify reports whether a rule hands syscalls to a seccomp agent.
func (s *Seccomp) HasNotify() bool {
	for _, c := range s.Syscalls {
		if c.Action == ActNotify {
			return true
		}
	}
	return false
}
