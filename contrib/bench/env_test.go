package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDiscoverHost(t *testing.T) {
	h, err := discoverHost()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := h.memMount()
	if !ok {
		t.Skip("no memory cgroup hierarchy mounted here")
	}
	// The caller's memory cgroup must exist in the memory hierarchy and
	// hold this very process.
	pids, err := readPids(filepath.Join(m.Path, h.MemRel, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if !containsInt(pids, os.Getpid()) {
		t.Fatalf("pid %d not in %s (memory cgroup from /proc/self/cgroup)", os.Getpid(), h.MemRel)
	}
	if _, err := h.memUsage(h.MemRel); err != nil {
		t.Fatal(err)
	}
}

func TestWaitExit(t *testing.T) {
	cmd := exec.Command("sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	if err := waitExit(cmd.Process.Pid, 20*time.Millisecond); err == nil {
		t.Fatal("waitExit returned while sleep 0.2 was still running")
	}
	// Not reaped by us yet: the process is a zombie, which counts as exited.
	if err := waitExit(cmd.Process.Pid, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

func TestPssSelf(t *testing.T) {
	kb, err := pssKB([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if kb <= 0 {
		t.Fatalf("PSS of the test process = %d kB, want > 0", kb)
	}
}

// TestRemoveCgroupTree checks the crash path of the cleanup: a nested cgroup
// that still holds a process is emptied (the process killed) and removed.
func TestRemoveCgroupTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	h, err := discoverHost()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := h.memMount()
	if !ok {
		t.Skip("no memory cgroup hierarchy mounted here")
	}
	top := filepath.Join(m.Path, h.MemRel, fmt.Sprintf("ocirun-bench-test-%d", os.Getpid()))
	leaf := filepath.Join(top, "rt", "id")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Skipf("cannot create cgroups under %s: %v", h.MemRel, err)
	}
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = removeCgroupTree(top)
	})
	// Reap concurrently, as init would, so the killed task leaves the cgroup.
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := strconv.Itoa(cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(pid), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeCgroupTree(top); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(top); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("%s still there: %v", top, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the process in the removed cgroup was not killed")
	}
}
