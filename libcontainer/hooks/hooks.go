// Package hooks runs the OCI lifecycle hooks of one kind: each program gets the
// container state on stdin, exactly its own argv and env, and an optional timeout.
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

// Run runs hooks of one kind ("prestart", "createRuntime", ...) in order and
// stops at the first failure. The error starts with runc's words, which
// scripts match, then names the hook by its JSON path: `error running
// createRuntime hook #1: hooks.createRuntime[1] "/usr/bin/hook": exit status
// 2: <stderr>`.
func Run(kind string, hooks []configs.Hook, state []byte) error {
	return RunIn(kind, "", hooks, state)
}

// RunIn is Run with dir as each hook's working directory ("": the runtime's).
func RunIn(kind, dir string, hooks []configs.Hook, state []byte) error {
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

// RunAll runs every hook even when some fail, as the spec wants for poststop
// (each failure is only a warning), and returns one error per failed hook.
func RunAll(kind string, hooks []configs.Hook, state []byte) []error {
	var errs []error
	for i := range hooks {
		if err := run(&hooks[i], "", state); err != nil {
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
