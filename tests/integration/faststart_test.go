package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// goStarted tells from GODEBUG=inittrace=1's lines on stderr whether the Go
// runtime of the command started at all.
func goStarted(r bundle.Result) bool { return strings.Contains(r.Stderr, "init runtime @") }

var inittrace = bundle.RunOpts{Env: []string{"GODEBUG=inittrace=1"}}

// TestStartFastPath checks that `start` of a plain created container is done
// before the Go runtime starts (ocirun's start.plan), with runc's outcome:
// the process runs, the fifo is gone, a second start is refused in Go's
// words; and that everything the fast path does not do goes to Go.
func TestStartFastPath(t *testing.T) {
	t.Parallel()
	if !bundle.IsOcirun(t) {
		t.Skip("ocirun's own start path: other runtimes have no start.plan")
	}
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.Create(t)
		dir := filepath.Join(b.Root, b.ID)
		if _, err := os.Stat(filepath.Join(dir, "start.plan")); err != nil {
			t.Fatalf("create left no start.plan: %v", err)
		}
		logFile := filepath.Join(t.TempDir(), "log.json")
		// As containerd's shim calls it.
		r := b.RunWith(t, inittrace, "--log", logFile, "--log-format", "json", "start", b.ID)
		if r.Code != 0 || goStarted(r) {
			t.Fatalf("start: exit %d, Go runtime started: %v: %v", r.Code, goStarted(r), r)
		}
		if st := b.MustState(t); st.Status != specs.StateRunning {
			t.Errorf("after start: %s, want running", st.Status)
		}
		if _, err := os.Lstat(filepath.Join(dir, "exec.fifo")); !os.IsNotExist(err) {
			t.Errorf("exec.fifo after start: %v", err)
		}
		if data, err := os.ReadFile(logFile); err != nil || len(data) != 0 {
			t.Errorf("log file after a successful start: %q, %v (want it made and empty, as Go does)", data, err)
		}
		r = b.RunWith(t, inittrace, "start", b.ID)
		if r.Code == 0 || !goStarted(r) || !strings.Contains(r.Stderr, "cannot start an already running container") {
			t.Errorf("second start: %v", r)
		}
	})
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		// run starts the container itself: nothing will read a plan.
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.RunDetached(t)
		if _, err := os.Stat(filepath.Join(b.Root, b.ID, "start.plan")); !os.IsNotExist(err) {
			t.Errorf("run -d left start.plan: %v", err)
		}
	})
	t.Run("exited-init", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.Create(t)
		if err := unix.Kill(b.MustState(t).Pid, unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		b.WaitStatus(t, specs.StateStopped, 5*time.Second)
		r := b.RunWith(t, inittrace, "start", b.ID)
		if r.Code == 0 || !goStarted(r) || !strings.Contains(r.Stderr, "cannot start a container that has stopped") {
			t.Errorf("start of a dead init: %v", r)
		}
	})
	// What start does beyond the fifo needs Go: no plan, or Go for the flag.
	for _, tc := range []struct {
		name   string
		opts   []bundle.Option
		flags  func(t *testing.T, b *bundle.Bundle) []string
		noPlan bool
	}{
		{name: "poststart-hook", noPlan: true, opts: []bundle.Option{bundle.WithSpec(func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{shHook("true")}}
		})}},
		{name: "debug", flags: func(*testing.T, *bundle.Bundle) []string { return []string{"--debug"} }},
		{name: "trace", flags: func(t *testing.T, _ *bundle.Bundle) []string {
			return []string{"--trace", filepath.Join(t.TempDir(), "trace.jsonl")}
		}},
		// Go cleans a root lexically; the kernel would follow a symlink first.
		{name: "dotted-root", flags: func(_ *testing.T, b *bundle.Bundle) []string { return []string{"--root", b.Root + "/."} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, append(tc.opts, bundle.WithProbe("sleep", "60"))...)
			b.Create(t)
			_, err := os.Stat(filepath.Join(b.Root, b.ID, "start.plan"))
			if tc.noPlan != os.IsNotExist(err) {
				t.Errorf("start.plan: %v, want one: %v", err, !tc.noPlan)
			}
			var flags []string
			if tc.flags != nil {
				flags = tc.flags(t, b)
			}
			r := b.RunWith(t, inittrace, append(flags, "start", b.ID)...)
			if r.Code != 0 || !goStarted(r) {
				t.Fatalf("start: exit %d, Go runtime started: %v (want it to): %v", r.Code, goStarted(r), r)
			}
			if st := b.MustState(t); st.Status != specs.StateRunning {
				t.Errorf("after start: %s, want running", st.Status)
			}
		})
	}
}
