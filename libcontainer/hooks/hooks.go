// Package hooks runs the OCI lifecycle hooks of one phase, with the spec's
// rule for a failure (Phase.Fatal): each program gets the container state on
// stdin, exactly its own argv and env, and an optional timeout.
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

const (
	// maxOutput bounds how much of a hook's stderr (and stdout) is kept for
	// the error message: a chatty hook must not grow the runtime's memory.
	maxOutput = 4096
	// waitDelay bounds how long Run waits for a hook's pipes after it exited:
	// a hook may leave a daemon behind that keeps stdout or stderr open.
	waitDelay = 2 * time.Second
)

// Phase is a point of the container's lifecycle at which hooks run. It
// carries the runtime-spec's rule for a hook that fails: before the user's
// program runs (prestart to startContainer) the failure fails the operation
// and the phase's later hooks do not run; after it (poststart, poststop) the
// failure is only a warning and every hook still runs.
type Phase int

const (
	// Prestart is deprecated by the spec but still honoured, before
	// CreateRuntime, as runc does.
	Prestart Phase = iota
	CreateRuntime
	CreateContainer
	StartContainer
	Poststart
	Poststop
)

var phaseNames = [...]string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// String is the phase's name in config.json.
func (p Phase) String() string { return phaseNames[p] }

// Fatal reports whether a failing hook of the phase fails the operation
// (the user's program has not run yet) rather than being a warning.
func (p Phase) Fatal() bool { return p < Poststart }

// Of returns the phase's hooks in h.
func (p Phase) Of(h *configs.Hooks) []configs.Hook {
	switch p {
	case Prestart:
		return h.Prestart
	case CreateRuntime:
		return h.CreateRuntime
	case CreateContainer:
		return h.CreateContainer
	case StartContainer:
		return h.StartContainer
	case Poststart:
		return h.Poststart
	}
	return h.Poststop
}

// Run runs the phase's hooks of h, in order, with state on their stdin. A
// fatal phase stops at the first failure and returns it. Otherwise each
// failure is passed to warn (nil drops it) and Run returns nil. The error
// starts with runc's words, which scripts match, then names the hook by
// its JSON path: `error running createRuntime hook #1:
// hooks.createRuntime[1] "/usr/bin/hook": exit status 2: <stderr>`.
func (p Phase) Run(h *configs.Hooks, state []byte, warn func(error)) error {
	return p.RunIn(h, "", state, warn)
}

// RunIn is Run with dir as each hook's working directory ("": the runtime's).
func (p Phase) RunIn(h *configs.Hooks, dir string, state []byte, warn func(error)) error {
	hs := p.Of(h)
	if p.Fatal() {
		return runFirst(p.String(), dir, hs, state)
	}
	for _, err := range runAll(p.String(), dir, hs, state) {
		if warn != nil {
			warn(err)
		}
	}
	return nil
}

// runFirst runs hooks in order and stops at the first failure.
func runFirst(kind, dir string, hooks []configs.Hook, state []byte) error {
	for i := range hooks {
		if err := run(&hooks[i], dir, state); err != nil {
			return hookError(kind, i, hooks[i].Path, err)
		}
	}
	return nil
}

func hookError(kind string, i int, path string, err error) error {
	return fmt.Errorf("error running %s hook #%d: hooks.%s[%d] %q: %w", kind, i, kind, i, path, err)
}

// runAll runs every hook even when some fail and returns one error per
// failed hook.
func runAll(kind, dir string, hooks []configs.Hook, state []byte) []error {
	var errs []error
	for i := range hooks {
		if err := run(&hooks[i], dir, state); err != nil {
			errs = append(errs, hookError(kind, i, hooks[i].Path, err))
		}
	}
	return errs
}

func run(h *configs.Hook, dir string, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d: must be a positive number of seconds", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	stdout := &boundedBuffer{max: maxOutput}
	stderr := &boundedBuffer{max: maxOutput}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	// A nil Env would mean "inherit the runtime's environment": the spec gives
	// the hook exactly its own.
	cmd.Env = append([]string{}, h.Env...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(state)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so a timeout kills whatever the hook started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay

	// os/exec drops EPIPE from the stdin copy, so a hook that ignores the
	// state it was given does not fail.
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %ds, killed%s", *h.Timeout, output(stdout, stderr))
	}
	if err != nil {
		return fmt.Errorf("%w%s", err, output(stdout, stderr))
	}
	return nil
}

func output(stdout, stderr *boundedBuffer) string {
	if s := stderr.String(); s != "" {
		return ": stderr: " + s
	}
	if s := stdout.String(); s != "" {
		return ": stdout: " + s
	}
	return ""
}

// boundedBuffer keeps the first max bytes written to it and counts the rest.
type boundedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.buf.Len(); room < len(p) {
		b.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	b.buf.Write(p)
	return n, nil
}

func (b *boundedBuffer) String() string {
	s := strings.TrimSpace(b.buf.String())
	if b.dropped > 0 {
		s += fmt.Sprintf(" [%d more bytes]", b.dropped)
	}
	return s
}
