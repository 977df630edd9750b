package proto

import (
	"fmt"
	"os"
)

// Route is the sequence one init follows: create or exec, in Go or in C.
type Route int

const (
	GoCreate Route = iota
	GoExec
	CCreate
	CExec
)

func (r Route) String() string {
	return [...]string{"create (Go init)", "exec (Go init)", "create (C init)", "exec (C init)"}[r]
}

// Role is the end of the socket a Conn speaks for.
type Role int

const (
	Parent Role = iota
	Init
)

type state string

// edge is one allowed message: from a state, of a kind, in a direction.
type edge struct {
	from   state
	kind   Kind
	toInit bool // sent by the parent
	to     state
}

// routes is the protocol: every message each route allows, in order. An
// error from init is allowed anywhere and ends it.
var routes = map[Route][]edge{
	GoCreate: {
		{"new", KindBootstrap, true, "boot"},
		{"boot", KindIdmapPlease, false, "idmap"},
		{"idmap", KindIdmapDone, true, "mapped"},
		{"boot", KindChild, false, "child"},
		{"mapped", KindChild, false, "child"},
		{"child", KindConfig, true, "building"},
		{"building", KindHooksPlease, false, "hooks"},
		{"hooks", KindHooksDone, true, "built"},
		{"built", KindConsole, false, "console"},
		{"built", KindSeccompFd, false, "seccomp"},
		{"console", KindSeccompFd, false, "seccomp"},
		{"built", KindReady, false, "ready"},
		{"console", KindReady, false, "ready"},
		{"seccomp", KindReady, false, "ready"},
		{"ready", KindCommit, true, "committed"},
	},
	CCreate: {
		{"new", KindBootstrap, true, "boot"},
		{"boot", KindChild, false, "child"},
		{"child", KindProcfs, false, "building"},
		{"building", KindPlan, true, "planned"},
		{"planned", KindSeccompFd, false, "seccomp"},
		{"planned", KindReady, false, "ready"},
		{"seccomp", KindReady, false, "ready"},
		{"ready", KindCommit, true, "committed"},
	},
	GoExec: execRoute(KindConfig),
	CExec:  execRoute(KindPlan),
}

func execRoute(what Kind) []edge {
	return []edge{
		{"new", KindBootstrap, true, "boot"},
		{"boot", KindChild, false, "child"},
		{"child", what, true, "joined"},
		{"joined", KindConsole, false, "console"},
		{"joined", KindSeccompFd, false, "seccomp"},
		{"console", KindSeccompFd, false, "seccomp"},
		{"joined", KindReady, false, "ready"},
		{"console", KindReady, false, "ready"},
		{"seccomp", KindReady, false, "ready"},
	}
}

// Conn is one end of the socketpair, checking every message against its
// route: a message out of order is a protocol error on either end, never
// something to guess about.
type Conn struct {
	fd    int
	role  Role
	route Route
	state state
}

// NewConn speaks for role on fd along route.
func NewConn(fd int, role Role, route Route) *Conn {
	return &Conn{fd: fd, role: role, route: route, state: "new"}
}

// GoInit is the Go init's end of a create: the C stage, which has no Conn,
// has done its part of the route (bootstrap, id maps, child).
func GoInit(fd int) *Conn {
	return &Conn{fd: fd, role: Init, route: GoCreate, state: "child"}
}

// Fd is the socket.
func (c *Conn) Fd() int { return c.fd }

// Done reports whether init said ready.
func (c *Conn) Done() bool { return c.state == "ready" || c.state == "committed" }

func (c *Conn) step(kind Kind, toInit bool) error {
	if c.state == "failed" {
		return fmt.Errorf("protocol: %s after an error", kind)
	}
	var want []Kind
	for _, e := range routes[c.route] {
		if e.from != c.state || e.toInit != toInit {
			continue
		}
		if e.kind == kind {
			c.state = e.to
			return nil
		}
		want = append(want, e.kind)
	}
	from := c.state
	c.state = "failed"
	if len(want) == 0 {
		return fmt.Errorf("protocol: %s: unexpected %q in state %s", c.route, kind, from)
	}
	return fmt.Errorf("protocol: %s: expected %q, got %q", c.route, want, kind)
}

// Send sends m (with fds) if the route allows it now.
func (c *Conn) Send(m Msg, fds ...int) error {
	if err := c.step(m.Kind(), c.role == Parent); err != nil {
		return err
	}
	b, err := encode(m)
	if err != nil {
		return err
	}
	return WriteFrame(c.fd, b, fds...)
}

// Recv reads the next message from the peer and checks it against the
// route. An Error from init comes back as the error (*Error).
func (c *Conn) Recv() (Msg, []*os.File, error) {
	b, files, err := ReadFrame(c.fd)
	if err != nil {
		c.state = "failed"
		return nil, nil, err
	}
	m, err := Decode(b)
	if err == nil {
		if e, ok := m.(*Error); ok && c.role == Parent {
			c.state = "failed"
			closeAll(files)
			return nil, nil, e
		}
		err = c.step(m.Kind(), c.role == Init)
	}
	if err != nil {
		closeAll(files)
		return nil, nil, err
	}
	if want := fdsOf(m.Kind()); len(files) != want && want >= 0 {
		closeAll(files)
		c.state = "failed"
		return nil, nil, fmt.Errorf("protocol: %s with %d fds, want %d", m.Kind(), len(files), want)
	}
	return m, files, nil
}

// fdsOf is how many fds a kind carries; -1 for "any" (procfs: one per
// proc mount; config: one per idmapped mount, checked against its list).
func fdsOf(k Kind) int {
	switch k {
	case KindConsole, KindSeccompFd:
		return 1
	case KindProcfs, KindConfig:
		return -1
	}
	return 0
}

// Fail sends an error to the parent (init's side); it is not checked
// against the route: an error may come at any point.
func (c *Conn) Fail(err error) error {
	c.state = "failed"
	m, ok := err.(*Error)
	if !ok {
		m = &Error{Msg: err.Error()}
	}
	b, e := encode(m)
	if e != nil {
		return e
	}
	return WriteFrame(c.fd, b)
}

// Route is the route the Conn follows.
func (c *Conn) Route() Route { return c.route }
