// Package proto is the protocol between ocirun's parent and `ocirun init`:
// typed messages in length-prefixed frames on one AF_UNIX SOCK_STREAM
// socketpair, and the order they come in, as a transition table each side
// checks. A stream (rather than SOCK_SEQPACKET) keeps a large config from
// the socket buffer's per-message limit; fds travel with SCM_RIGHTS.
//
// init is C from its first instruction (libcontainer/nsexec). With a plan
// it stays C to execve ("C" routes); without one it goes on in Go ("Go"
// routes: a container with a user namespace, or OCIRUN_GO_INIT=1). The
// bootstrap and the plan are binary (nsexec's records); every other
// message is a JSON object whose "type" is its Kind.
//
//	create, Go init                           create, C init
//	parent                init                parent                  init
//	 ── bootstrap ────────▶                    ── bootstrap ─────────▶
//	 ◀──── idmap-please ──   (new user ns)     ◀────────────── child ──
//	 ── idmap-done ───────▶                    ◀──── procfs + fds ────   proc contexts
//	 ◀─────────── child ──                      (rootfs built from a parent
//	 ── config (+ fds) ────▶   idmapped mounts   thread in init's namespaces)
//	 ◀──── hooks-please ──   rootfs built      ── plan (+ fds) ──────▶
//	 ── hooks-done ───────▶                    ◀── seccomp-fd + fd ───   NOTIFY profile
//	 ◀─── console + fd ───   terminal          ◀────────────── ready ──
//	 ◀─ seccomp-fd + fd ──   NOTIFY profile     (state.json written)
//	 ◀─────────── ready ──                     ── commit ────────────▶   then exec.fifo
//	 (state.json written)
//	 ── commit ───────────▶   then exec.fifo
//
//	A create's init waits on exec.fifo only after "commit", which the
//	parent sends once state.json records it: EOF instead (the parent was
//	killed) makes init exit, so a creator that died never leaves an init
//	that no state dir knows of and that would finish the create later.
//
//	exec, C init: bootstrap ▶, ◀ child, plan ▶, ◀ console + fd (terminal),
//	◀ seccomp-fd + fd, ◀ ready. (GoExec, with a config instead of the plan,
//	is the route of an older Go init; none takes it now.)
//
//	◀ error, at any point: init reports why it stops, and exits.
package proto

import (
	"encoding/json"
	"fmt"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// Kind names a message: the JSON "type" of the JSON ones.
type Kind string

const (
	KindBootstrap   Kind = "bootstrap"    // parent → init, binary
	KindIdmapPlease Kind = "idmap-please" // init → parent
	KindIdmapDone   Kind = "idmap-done"   // parent → init
	KindChild       Kind = "child"        // init → parent
	KindProcfs      Kind = "procfs"       // init → parent, with proc contexts
	KindConfig      Kind = "config"       // parent → Go init
	KindPlan        Kind = "plan"         // parent → C init, binary, with fds
	KindHooksPlease Kind = "hooks-please" // Go init → parent
	KindHooksDone   Kind = "hooks-done"   // parent → Go init
	KindConsole     Kind = "console"      // init → parent, with the pty master
	KindSeccompFd   Kind = "seccomp-fd"   // init → parent, with the listener
	KindReady       Kind = "ready"        // init → parent
	KindCommit      Kind = "commit"       // parent → create's init
	KindError       Kind = "error"        // init → parent
)

// Msg is one message.
type Msg interface{ Kind() Kind }

// Bootstrap is nsexec.Bootstrap's encoding: namespaces, and the route.
type Bootstrap []byte

// Plan is nsexec.Plan's encoding: what the C init does up to execve.
type Plan []byte

// IdmapPlease asks the parent to write the new user namespace's id maps.
type IdmapPlease struct{}

// IdmapDone says the maps are written.
type IdmapDone struct{}

// Child is the host pid of the init that goes on: the C stage forks one
// when the container has a pid or time namespace (Pid 0: no fork).
type Child struct {
	Pid int `json:"pid"`
}

// Procfs carries fsopen("proc") contexts made in the container's pid
// namespace, one per proc mount.
type Procfs struct{}

// LSM is the host's answer to "which LSMs are enabled", which init cannot
// find out from inside the container.
type LSM struct {
	SELinux  bool `json:"selinux,omitempty"`
	AppArmor bool `json:"apparmor,omitempty"`
}

// Config is all a Go init gets, once: it only builds new containers.
type Config struct {
	Config       *configs.Config `json:"config"`
	ID           string          `json:"id,omitempty"`
	Bundle       string          `json:"bundle,omitempty"`
	NoNewKeyring bool            `json:"noNewKeyring,omitempty"`
	// Trace asks init to time its phases; they come back with Ready.
	Trace bool `json:"trace,omitempty"`
	// SeccompBPF is the process's filter, compiled by the parent.
	SeccompBPF []byte `json:"seccompBPF,omitempty"`
	// Cgroup tells init how to mount /sys/fs/cgroup.
	Cgroup *rootfs.CgroupMount `json:"cgroup,omitempty"`
	LSM    LSM                 `json:"lsm"`
	// IDMapped are the indexes of the mounts whose idmapped clones, made
	// by the parent, come with the message as its fds, in this order.
	IDMapped []int `json:"idmapped,omitempty"`
}

// HooksPlease says the rootfs is built, before pivot_root.
type HooksPlease struct{}

// HooksDone says the createRuntime and createContainer hooks ran.
type HooksDone struct{}

// Console carries the pty master.
type Console struct{}

// SeccompFd carries a NOTIFY profile's listener.
type SeccompFd struct{}

// Ready says init is about to wait on exec.fifo (create) or to execve
// (exec); Spans are its traced phases. Log holds what the C stage, which
// has no log pipe, has to say: its warnings, and a debug line per step
// when the plan asked for them (--debug).
type Ready struct {
	Spans []trace.Span `json:"spans,omitempty"`
	Log   []LogLine    `json:"log,omitempty"`
}

// Commit tells a create's init that state.json records it: it may now
// wait on exec.fifo.
type Commit struct{}

// LogLine is one line for the parent's log: a level ("debug", "warning")
// and the message.
type LogLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// Error is why init stopped: a message (Go init, the namespace stage), or a
// failed step of the C process stage by name, index, errno and detail,
// which the parent words from the config.
type Error struct {
	Msg    string `json:"msg,omitempty"`
	Step   string `json:"step,omitempty"`
	Arg    int    `json:"arg,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (Bootstrap) Kind() Kind   { return KindBootstrap }
func (Plan) Kind() Kind        { return KindPlan }
func (IdmapPlease) Kind() Kind { return KindIdmapPlease }
func (IdmapDone) Kind() Kind   { return KindIdmapDone }
func (Child) Kind() Kind       { return KindChild }
func (Procfs) Kind() Kind      { return KindProcfs }
func (Config) Kind() Kind      { return KindConfig }
func (HooksPlease) Kind() Kind { return KindHooksPlease }
func (HooksDone) Kind() Kind   { return KindHooksDone }
func (Console) Kind() Kind     { return KindConsole }
func (SeccompFd) Kind() Kind   { return KindSeccompFd }
func (Ready) Kind() Kind       { return KindReady }
func (Commit) Kind() Kind      { return KindCommit }
func (*Error) Kind() Kind      { return KindError }

func (e *Error) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("init: step %s (%d) failed: errno %d", e.Step, e.Arg, e.Errno)
}

// encode returns m's frame payload.
func encode(m Msg) ([]byte, error) {
	switch m := m.(type) {
	case Bootstrap:
		return m, nil
	case Plan:
		return m, nil
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	// {"type":"<kind>", ...the fields}: flat, as the C stage writes them.
	out := fmt.Appendf(nil, `{"type":%q`, m.Kind())
	if len(body) > 2 {
		out = append(out, ',')
		out = append(out, body[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}

// Decode parses a JSON message (what init sends, and a Go init's config).
func Decode(b []byte) (Msg, error) {
	var head struct {
		Type Kind `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("decode message %.100q: %w", b, err)
	}
	var m Msg
	switch head.Type {
	case KindIdmapPlease:
		m = &IdmapPlease{}
	case KindIdmapDone:
		m = &IdmapDone{}
	case KindChild:
		m = &Child{}
	case KindProcfs:
		m = &Procfs{}
	case KindConfig:
		m = &Config{}
	case KindHooksPlease:
		m = &HooksPlease{}
	case KindHooksDone:
		m = &HooksDone{}
	case KindConsole:
		m = &Console{}
	case KindSeccompFd:
		m = &SeccompFd{}
	case KindReady:
		m = &Ready{}
	case KindCommit:
		m = &Commit{}
	case KindError:
		m = &Error{}
	default:
		return nil, fmt.Errorf("protocol: unknown message type %q", head.Type)
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode %s message: %w", head.Type, err)
	}
	return deref(m), nil
}

// deref returns the value types the rest of the package uses (an Error
// stays a pointer: it is also an error).
func deref(m Msg) Msg {
	switch m := m.(type) {
	case *IdmapPlease:
		return *m
	case *IdmapDone:
		return *m
	case *Child:
		return *m
	case *Procfs:
		return *m
	case *Config:
		return *m
	case *HooksPlease:
		return *m
	case *HooksDone:
		return *m
	case *Console:
		return *m
	case *SeccompFd:
		return *m
	case *Ready:
		return *m
	case *Commit:
		return *m
	}
	return m
}
