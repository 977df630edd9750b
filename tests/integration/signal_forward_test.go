package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"golang.org/x/sys/unix"
)

// forwardedSignals are those a foreground `run` or `exec` must pass on, as
// runc does: the usual ones, those that would otherwise end or stop a Go
// program, and real-time ones (systemd in a container halts on SIGRTMIN+3).
var forwardedSignals = []unix.Signal{
	unix.SIGUSR1, unix.SIGTERM, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT,
	unix.SIGTSTP, unix.SIGPIPE, unix.Signal(37), unix.Signal(64),
}

// TestRunForwardsSignals sends each signal to a foreground `run` and checks
// that the container's init got it (the probe prints its name) and that run
// then exits with the init's status, 0.
func TestRunForwardsSignals(t *testing.T) {
	t.Parallel()
	for _, sig := range forwardedSignals {
		t.Run(signalName(sig), func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithProbe("wait-signal"))
			got, code, stderr := signalForeground(t, b, sig, "run", b.ID)
			if got != signalName(sig) || code != 0 {
				t.Errorf("run forwarded %s: init printed %q, run exited %d; stderr: %s", signalName(sig), got, code, stderr)
			}
		})
	}
}

// TestExecForwardsSignals does the same through a foreground `exec`.
func TestExecForwardsSignals(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.RunDetached(t)
	for _, sig := range []unix.Signal{unix.SIGUSR2, unix.SIGTERM, unix.Signal(37)} {
		got, code, stderr := signalForeground(t, b, sig, "exec", b.ID, bundle.ProbePath, "wait-signal")
		if got != signalName(sig) || code != 0 {
			t.Errorf("exec forwarded %s: the process printed %q, exec exited %d; stderr: %s", signalName(sig), got, code, stderr)
		}
	}
}

// signalForeground starts the runtime with args in the foreground, waits for
// the probe's "ready" (its handlers are in place), sends sig to the runtime,
// and returns the signal name the probe printed and the runtime's exit code.
func signalForeground(t *testing.T, b *bundle.Bundle, sig unix.Signal, args ...string) (got string, code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bundle.Runtime(t), append([]string{"--root", b.Root}, args...)...)
	cmd.Dir = b.Dir
	errf, err := os.CreateTemp(t.TempDir(), "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stderr = errf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		data, _ := os.ReadFile(errf.Name())
		t.Fatalf("%v: no ready line (%q): %s", args, lines.Text(), data)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if lines.Scan() {
		got = lines.Text()
	}
	// Wait closes the pipe; nothing more is expected on it.
	err = cmd.Wait()
	data, _ := os.ReadFile(errf.Name())
	if ctx.Err() != nil {
		t.Fatalf("%v: still running 20 s after %s", args, signalName(sig))
	}
	return got, cmd.ProcessState.ExitCode(), fmt.Sprint(string(data), err)
}

func signalName(s unix.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("SIG%d", int(s))
}
