package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLifecycle walks create → start → kill → delete, checking state at each step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	pidFile := filepath.Join(t.TempDir(), "pid")
	b.Create(t, "--pid-file", pidFile)

	st := b.MustState(t)
	if st.Status != specs.StateCreated {
		t.Errorf("status after create = %q, want created", st.Status)
	}
	if st.ID != b.ID || st.Bundle != b.Dir || st.Pid <= 0 || st.Version == "" {
		t.Errorf("state after create = %+v, want id %s, bundle %s, a pid and ociVersion", st, b.ID, b.Dir)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("--pid-file: %v", err)
	}
	if got, _ := strconv.Atoi(strings.TrimSpace(string(data))); got != st.Pid {
		t.Errorf("--pid-file holds %q, state pid is %d", data, st.Pid)
	}
	if !bundle.ProcAlive(st.Pid) {
		t.Errorf("init pid %d of a created container is not alive", st.Pid)
	}

	b.Start(t)
	if st := b.MustState(t); st.Status != specs.StateRunning {
		t.Errorf("status after start = %q, want running", st.Status)
	}
	// A second start of a running container is an error.
	if r := b.Run(t, "start", b.ID); r.Code == 0 {
		t.Errorf("start of a running container succeeded: %v", r)
	}
	// delete refuses a running container without --force.
	if r := b.Run(t, "delete", b.ID); r.Code == 0 {
		t.Errorf("delete of a running container succeeded without --force: %v", r)
	}

	b.MustRun(t, "kill", b.ID, "KILL")
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	if r := b.Run(t, "kill", b.ID, "KILL"); r.Code == 0 {
		t.Errorf("kill of a stopped container succeeded: %v", r)
	}

	b.MustRun(t, "delete", b.ID)
	if _, r, ok := b.State(t); ok {
		t.Errorf("state after delete succeeded: %v", r)
	}
	b.CheckGone(t)
}

// TestRunDetachedAndKeep covers `run -d` and `run --keep`.
func TestRunDetachedAndKeep(t *testing.T) {
	t.Parallel()
	t.Run("detach", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		start := time.Now()
		b.RunDetached(t)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("run -d took %v: it waited for the process", d)
		}
		if st := b.MustState(t); st.Status != specs.StateRunning {
			t.Errorf("status after run -d = %q, want running", st.Status)
		}
	})
	t.Run("keep", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("exit", "3"))
		r := b.Run(t, "run", "--keep", "--bundle", b.Dir, b.ID)
		if r.Code != 3 {
			t.Errorf("run --keep: exit %d, want 3\n%v", r.Code, r)
		}
		if st := b.MustState(t); st.Status != specs.StateStopped {
			t.Errorf("status after run --keep = %q, want stopped", st.Status)
		}
	})
}

// TestDuplicateID checks that a second create with a taken id fails and leaves
// the first container alone.
func TestDuplicateID(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.Create(t)
	first := b.MustState(t)
	r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("second create with id %s succeeded", b.ID)
	}
	st := b.MustState(t)
	if st.Status != specs.StateCreated || st.Pid != first.Pid {
		t.Errorf("first container changed: %+v, was %+v", st, first)
	}
}

// TestDeleteForceUnknown: deleting a container that does not exist with --force
// is not an error (containerd relies on it for cleanup).
func TestDeleteForceUnknown(t *testing.T) {
	t.Parallel()
	b := bundle.New(t)
	if r := b.Run(t, "delete", "--force", b.ID+"-nope"); r.Code != 0 {
		t.Errorf("delete --force of an unknown id: %v", r)
	}
	if r := b.Run(t, "delete", b.ID+"-nope"); r.Code == 0 {
		t.Errorf("delete (no --force) of an unknown id succeeded: %v", r)
	}
}

// TestList checks list's table, -q and --format json.
func TestList(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.Create(t)
	pid := b.MustState(t).Pid

	r := b.MustRun(t, "list")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 || !slices.Equal(strings.Fields(lines[0]), []string{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}) {
		t.Fatalf("list table: %q", r.Stdout)
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[0] != b.ID || f[1] != strconv.Itoa(pid) || f[2] != "created" || f[3] != b.Dir {
		t.Errorf("list row %q, want %s %d created %s", lines[1], b.ID, pid, b.Dir)
	}

	if r := b.MustRun(t, "list", "-q"); strings.TrimSpace(r.Stdout) != b.ID {
		t.Errorf("list -q = %q, want %q", r.Stdout, b.ID)
	}

	r = b.MustRun(t, "list", "--format", "json")
	var entries []struct {
		ID     string `json:"id"`
		Pid    int    `json:"pid"`
		Status string `json:"status"`
		Bundle string `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &entries); err != nil {
		t.Fatalf("list --format json: %v\n%s", err, r.Stdout)
	}
	if len(entries) != 1 || entries[0].ID != b.ID || entries[0].Pid != pid || entries[0].Status != "created" || entries[0].Bundle != b.Dir {
		t.Errorf("list --format json = %+v", entries)
	}
}

// TestKillSignalForms checks that a signal may be given by name, SIG-name or number.
func TestKillSignalForms(t *testing.T) {
	t.Parallel()
	for _, sig := range []string{"KILL", "SIGKILL", "9"} {
		t.Run(sig, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithProbe("sleep", "60"))
			b.RunDetached(t)
			b.MustRun(t, "kill", b.ID, sig)
			b.WaitStatus(t, specs.StateStopped, 5*time.Second)
		})
	}
}

// TestKillDelivers checks that the signal reaches the process (PID 1 with a handler).
func TestKillDelivers(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("wait-signal", "--out", "/tmp/signal"))
	b.RunDetached(t)
	b.MustState(t)
	// Until the probe installs its handler, PID 1 of a pid namespace drops USR1,
	// so resending until the probe reports it is safe.
	deadline := time.Now().Add(5 * time.Second)
	for {
		// A failed kill is fine once the probe got an earlier one and exited.
		r := b.Run(t, "kill", b.ID, "USR1")
		// An empty file is the probe caught between create and write.
		if data, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp", "signal")); err == nil && len(data) > 0 {
			if got := strings.TrimSpace(string(data)); got != "SIGUSR1" {
				t.Errorf("probe got %s, want SIGUSR1", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe never reported SIGUSR1; last kill: %v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
}

// TestSpec checks that `spec` writes a usable config.json and will not overwrite one.
func TestSpec(t *testing.T) {
	t.Parallel()
	b := bundle.New(t)
	dir := t.TempDir()
	b.MustRun(t, "spec", "--bundle", dir)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("spec output: %v", err)
	}
	if s.Version == "" || s.Process == nil || len(s.Process.Args) == 0 || s.Root == nil || s.Root.Path != "rootfs" || s.Linux == nil {
		t.Errorf("spec output lacks ociVersion, process.args, root.path or linux: %s", data)
	}
	if r := b.Run(t, "spec", "--bundle", dir); r.Code == 0 {
		t.Errorf("spec overwrote an existing config.json: %v", r)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if string(after) != string(data) {
		t.Errorf("config.json changed by the refused spec")
	}
}
