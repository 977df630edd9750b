package nsexec

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Plan record types, seccomp load points, console modes and LSM kinds; they
// match nsexec.h.
const (
	planArg = iota + 1
	planEnv
	planCwd
	planUser
	planGroups
	planCaps
	planNNP
	planRlimit
	planKeyLabel
	planLSM
	planSeccomp
	planPersonality
	planSched
	planIOPrio
	planAffinity
	planMemPolicy
	planUmask
	planPreserve
	planFifo
	planKeyring
	planConsole
	planRootFd
	planTrace
	planHook
	planHookArg
	planHookEnv
	planHookState
	planDebug
)

// Where the process stage loads the seccomp filter.
const (
	SeccompEarly = 1 // before the final capabilities (no no_new_privs)
	SeccompReady = 2 // before "ready" (no_new_privs, with a listener to send)
	SeccompLast  = 3 // right before execve (no_new_privs)
)

// Console modes.
const (
	ConsoleFd  = 1 // the plan frame carries the pty slave (create)
	ConsoleNew = 2 // open a pty in the container and send the master (exec)
)

// LSM kinds, also the arg of an "lsm" step error.
const (
	LSMAppArmor = 1
	LSMSELinux  = 2
)

// Process modes of the bootstrap's process record.
const (
	ProcessCreate = 1
	ProcessExec   = 2
)

const maxPlan = 16 << 20

// Rlimit is one setrlimit call; Index is its place in process.rlimits, for
// the error message.
type Rlimit struct {
	Resource, Index uint32
	Soft, Hard      uint64
}

// Caps are the five capability sets as masks, and the kernel's last one.
type Caps struct {
	Bounding, Effective, Inheritable, Permitted, Ambient uint64
	LastCap                                              uint32
}

// LSMAttr is a write to /proc/thread-self/<File> before execve.
type LSMAttr struct {
	Kind        uint32
	File, Value string
}

// Sched is sched_setattr's struct sched_attr without its size.
type Sched struct {
	Policy, Priority          uint32
	Flags                     uint64
	Nice                      int32
	Runtime, Deadline, Period uint64
}

// MemPolicy is set_mempolicy's arguments and the mode's name.
type MemPolicy struct {
	Mode    uint32
	MaxNode uint64
	Nodes   []uint64
	Name    string
}

// Plan is what the process stage (process.c) does between the namespaces
// and execve, decided and checked by the parent. Nil and zero fields are
// steps not taken.
type Plan struct {
	Args, Env  []string
	Cwd        string
	UID, GID   uint32
	Groups     []uint32
	Caps       *Caps
	NoNewPrivs bool
	Rlimits    []Rlimit
	LSM        []LSMAttr
	// SeccompWhen is 0 without a filter.
	SeccompWhen  uint32
	SeccompFlags uint32
	SeccompBPF   []byte
	Personality  *uint32
	Sched        *Sched
	IOPrio       *uint32
	Affinity     []byte
	MemPolicy    *MemPolicy
	Umask        uint32
	PreserveFDs  uint32
	// FifoFd is the inherited exec.fifo fd; 0 for exec.
	FifoFd uint32
	// Keyring is the session keyring init joins ("" for none), created with
	// KeyLabel as its SELinux label when there is one.
	Keyring, KeyLabel string
	// Console is 0, ConsoleFd or ConsoleNew.
	Console    uint32
	Rows, Cols uint16
	// RootFd: the frame carries the rootfs (no pivot_root), after the console.
	RootFd bool
	Trace  bool
	// Debug asks for a debug line per step, sent back with "ready".
	Debug bool
	// Hooks are the startContainer hooks; each gets StatePre, init's pid
	// in its own pid namespace and StatePost on stdin.
	Hooks               []Hook
	StatePre, StatePost string
}

// Hook is one startContainer hook; Timeout is in seconds, 0 for none.
type Hook struct {
	Path      string
	Args, Env []string
	Timeout   uint32
}

type encoder struct {
	out []byte
	err error
}

// add appends one record, padded to 8 bytes so the C side reads aligned data.
func (e *encoder) add(typ uint16, data []byte) {
	var hdr [8]byte
	binary.LittleEndian.PutUint16(hdr[0:], typ)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(data)))
	e.out = append(e.out, hdr[:]...)
	e.out = append(e.out, data...)
	if pad := (8 - len(data)%8) % 8; pad > 0 {
		e.out = append(e.out, make([]byte, pad)...)
	}
}

func (e *encoder) str(typ uint16, field, s string) {
	if strings.IndexByte(s, 0) >= 0 {
		e.err = fmt.Errorf("%s %q contains a NUL byte", field, s)
		return
	}
	e.add(typ, append([]byte(s), 0))
}

func u32s(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func u64s(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// Encode returns the plan frame's payload: 8-byte aligned records of a u16
// type, a u32 length and the data, as the bootstrap's.
func (p *Plan) Encode() ([]byte, error) {
	if len(p.Args) == 0 || p.Cwd == "" {
		return nil, fmt.Errorf("plan: %d args, cwd %q", len(p.Args), p.Cwd)
	}
	e := &encoder{}
	for _, a := range p.Args {
		e.str(planArg, "process.args", a)
	}
	for _, v := range p.Env {
		e.str(planEnv, "process.env", v)
	}
	e.str(planCwd, "process.cwd", p.Cwd)
	e.add(planUser, u32s(p.UID, p.GID))
	e.add(planGroups, u32s(p.Groups...))
	if c := p.Caps; c != nil {
		b := u64s(nil, c.Bounding, c.Effective, c.Inheritable, c.Permitted, c.Ambient)
		e.add(planCaps, binary.LittleEndian.AppendUint32(b, c.LastCap))
	}
	if p.NoNewPrivs {
		e.add(planNNP, nil)
	}
	for _, r := range p.Rlimits {
		e.add(planRlimit, u64s(u32s(r.Resource, r.Index), r.Soft, r.Hard))
	}
	for _, l := range p.LSM {
		if strings.IndexByte(l.File+l.Value, 0) >= 0 || l.File == "" || l.Value == "" {
			return nil, fmt.Errorf("plan: bad LSM attribute %q = %q", l.File, l.Value)
		}
		e.add(planLSM, append(u32s(l.Kind), l.File+"\x00"+l.Value+"\x00"...))
	}
	if p.SeccompWhen != 0 {
		e.add(planSeccomp, append(u32s(p.SeccompWhen, p.SeccompFlags), p.SeccompBPF...))
	}
	if p.Personality != nil {
		e.add(planPersonality, u32s(*p.Personality))
	}
	if s := p.Sched; s != nil {
		b := u64s(u32s(s.Policy, s.Priority), s.Flags)
		b = append(b, u32s(uint32(s.Nice), 0)...)
		e.add(planSched, u64s(b, s.Runtime, s.Deadline, s.Period))
	}
	if p.IOPrio != nil {
		e.add(planIOPrio, u32s(*p.IOPrio))
	}
	if len(p.Affinity) > 0 {
		e.add(planAffinity, p.Affinity)
	}
	if m := p.MemPolicy; m != nil {
		b := u64s(u32s(m.Mode, uint32(len(m.Nodes))), m.MaxNode)
		b = u64s(b, m.Nodes...)
		e.add(planMemPolicy, append(b, m.Name+"\x00"...))
	}
	e.add(planUmask, u32s(p.Umask))
	if p.PreserveFDs > 0 {
		e.add(planPreserve, u32s(p.PreserveFDs))
	}
	if p.FifoFd > 0 {
		e.add(planFifo, u32s(p.FifoFd))
	}
	if p.Keyring != "" {
		e.str(planKeyring, "keyring", p.Keyring)
		if p.KeyLabel != "" {
			e.str(planKeyLabel, "process.selinuxLabel", p.KeyLabel)
		}
	}
	if p.Console != 0 {
		b := u32s(p.Console)
		b = binary.LittleEndian.AppendUint16(b, p.Rows)
		e.add(planConsole, binary.LittleEndian.AppendUint16(b, p.Cols))
	}
	if p.RootFd {
		e.add(planRootFd, nil)
	}
	if p.Trace {
		e.add(planTrace, nil)
	}
	if p.Debug {
		e.add(planDebug, nil)
	}
	for i, h := range p.Hooks {
		field := fmt.Sprintf("hooks.startContainer[%d]", i)
		if strings.IndexByte(h.Path, 0) >= 0 || h.Path == "" {
			return nil, fmt.Errorf("plan: %s.path %q", field, h.Path)
		}
		e.add(planHook, append(u32s(h.Timeout), h.Path+"\x00"...))
		for _, a := range h.Args {
			e.str(planHookArg, field+".args", a)
		}
		for _, v := range h.Env {
			e.str(planHookEnv, field+".env", v)
		}
	}
	if len(p.Hooks) > 0 {
		if strings.IndexByte(p.StatePre+p.StatePost, 0) >= 0 {
			return nil, fmt.Errorf("plan: hook state contains a NUL byte")
		}
		e.add(planHookState, []byte(p.StatePre+"\x00"+p.StatePost+"\x00"))
	}
	if e.err != nil {
		return nil, fmt.Errorf("plan: %w", e.err)
	}
	if len(e.out) > maxPlan {
		return nil, fmt.Errorf("plan: %d bytes exceeds %d", len(e.out), maxPlan)
	}
	return e.out, nil
}
