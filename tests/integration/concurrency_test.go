package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// envConcurrencyN overrides how many containers TestConcurrentLifecycles
// cycles; CI runs the default.
const envConcurrencyN = "OCIRUN_TEST_CONCURRENCY_N"

const (
	concurrencyN        = 200
	concurrencyParallel = 16
)

// TestConcurrentLifecycles drives many containers through their whole
// lifecycle (create, start, exec, pause, resume, kill, delete), 16 at a
// time, as a shim does. Every other one ends with kill, delete --force and
// state racing on the same id. Nothing may fail spuriously, and afterwards
// no state dir, cgroup (in any hierarchy), mount or process is left.
func TestConcurrentLifecycles(t *testing.T) {
	n := concurrencyN
	if v := os.Getenv(envConcurrencyN); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", envConcurrencyN, v)
		}
	}
	rt := bundle.Runtime(t)
	bundles := make([]*bundle.Bundle, n)
	for i := range bundles {
		bundles[i] = bundle.New(t, bundle.WithProbe("sleep", "600"))
	}
	mountsBefore := mountPoints(t)

	start := time.Now()
	var failures atomic.Int64
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		failures.Add(1)
		mu.Lock()
		defer mu.Unlock()
		t.Errorf(format, args...)
	}
	sem := make(chan struct{}, concurrencyParallel)
	var wg sync.WaitGroup
	for i, b := range bundles {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := cycle(rt, b, i%2 == 1); err != nil {
				fail("container %d (%s): %v", i, b.ID, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d containers cycled, %d in parallel, in %v: %d failures", n, concurrencyParallel, time.Since(start).Round(time.Millisecond), failures.Load())

	for _, b := range bundles {
		b.CheckGone(t)
	}
	for m := range mountPoints(t) {
		if !mountsBefore[m] {
			for _, b := range bundles {
				if strings.HasPrefix(m, b.Dir) || strings.Contains(m, b.ID) {
					t.Errorf("mount %s of container %s left behind", m, b.ID)
				}
			}
		}
	}
}

// cycle takes one container through its lifecycle; race ends it with
// kill, delete --force and state at once instead of kill, then delete.
func cycle(rt string, b *bundle.Bundle, race bool) error {
	run := func(args ...string) error {
		out, err := runtimeCmd(rt, b, args...)
		if err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, args := range [][]string{
		{"create", "--bundle", b.Dir, b.ID},
		{"start", b.ID},
		{"exec", b.ID, bundle.ProbePath, "exit", "0"},
		{"pause", b.ID},
		{"resume", b.ID},
	} {
		if err := run(args...); err != nil {
			return err
		}
	}
	if st, err := stateOf(rt, b); err != nil || st.Status != specs.StateRunning {
		return fmt.Errorf("state after resume: %+v, %v", st, err)
	}
	if !race {
		if err := run("kill", b.ID, "KILL"); err != nil {
			return err
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := stateOf(rt, b)
			if err != nil {
				return fmt.Errorf("state after kill: %w", err)
			}
			if st.Status == specs.StateStopped {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("still %s 10s after kill", st.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return run("delete", b.ID)
	}
	// The race: whatever order the three run in, delete --force succeeds;
	// kill and state either see the container or say it does not exist
	// (kill: or that it no longer runs); nothing else is acceptable.
	var errs [3]error
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		out, err := runtimeCmd(rt, b, "kill", b.ID, "KILL")
		if err != nil && !strings.Contains(out, "does not exist") && !strings.Contains(out, "not running") {
			errs[0] = fmt.Errorf("racing kill: %w: %s", err, out)
		}
	}()
	go func() {
		defer wg.Done()
		if out, err := runtimeCmd(rt, b, "delete", "--force", b.ID); err != nil {
			errs[1] = fmt.Errorf("racing delete --force: %w: %s", err, out)
		}
	}()
	go func() {
		defer wg.Done()
		if _, err := stateOf(rt, b); err != nil && !errors.Is(err, errNoContainer) {
			errs[2] = fmt.Errorf("racing state: %w", err)
		}
	}()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	if _, err := stateOf(rt, b); !errors.Is(err, errNoContainer) {
		return fmt.Errorf("state after delete --force: %v, want %v", err, errNoContainer)
	}
	return nil
}

var errNoContainer = errors.New("container does not exist")

// runtimeCmd runs the runtime with b's root; safe from any goroutine
// (Bundle.Run may end the test, which only the test's goroutine may).
func runtimeCmd(rt string, b *bundle.Bundle, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bundle.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rt, append([]string{"--root", b.Root}, args...)...)
	cmd.Dir = b.Dir
	// A file, not a pipe: a detached container would keep a pipe open.
	out, err := os.CreateTemp("", "ocirun-conc-")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v", bundle.CommandTimeout)
	}
	b2, rerr := os.ReadFile(out.Name())
	if rerr != nil && err == nil {
		err = rerr
	}
	return string(b2), err
}

// stateOf runs `state`; a container that does not exist is errNoContainer.
func stateOf(rt string, b *bundle.Bundle) (specs.State, error) {
	var st specs.State
	out, err := runtimeCmd(rt, b, "state", b.ID)
	if err != nil {
		if strings.Contains(out, "does not exist") {
			return st, errNoContainer
		}
		return st, fmt.Errorf("%w: %s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("state output is not JSON: %w: %q", err, out)
	}
	return st, nil
}

// mountPoints is the set of mount points in our mount namespace.
func mountPoints(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range hostMounts(t) {
		out[m.mountpoint] = true
	}
	return out
}
