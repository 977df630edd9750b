package libcontainer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// fakeCgroup holds one real process and records what teardown does to it.
type fakeCgroup struct {
	noCgroup
	pid    int
	gone   <-chan struct{} // closed once the process is reaped
	events *[]string
}

func (f *fakeCgroup) GetPids() ([]int, error) {
	select {
	case <-f.gone:
		return nil, nil
	default:
		return []int{f.pid}, nil
	}
}

func (f *fakeCgroup) Destroy() error {
	*f.events = append(*f.events, "cgroup")
	return nil
}

// TestTeardownOrder: teardown kills what the cgroup holds, then removes the
// cgroup, then runs poststop, then removes the state dir.
func TestTeardownOrder(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	go func() { cmd.Wait(); close(gone) }() // reaped as it dies
	t.Cleanup(func() { cmd.Process.Kill(); <-gone })
	var events []string
	cg := &fakeCgroup{pid: cmd.Process.Pid, gone: gone, events: &events}
	dir := filepath.Join(t.TempDir(), "c")
	if err := os.Mkdir(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	err := teardown(cg, dir, true, time.Now().Add(5*time.Second), func() {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("poststop ran after the state dir went: %v", err)
		}
		events = append(events, "poststop")
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	default:
		t.Error("the cgroup's process survived teardown")
	}
	if len(events) != 2 || events[0] != "cgroup" || events[1] != "poststop" {
		t.Errorf("teardown did %v, want the cgroup removed, then poststop", events)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir left: %v", err)
	}
}

// failingBuilder fails after making its cgroup.
type failingBuilder struct {
	cg      cgroups.Manager
	aborted bool
}

func (b *failingBuilder) build(dir string, placed func(cgroups.Manager) error) (built, error) {
	if b.cg != nil {
		if err := placed(b.cg); err != nil {
			return built{}, err
		}
	}
	return built{op: "create"}, errors.New("init failed")
}
func (b *failingBuilder) cgroup() cgroups.Manager { return b.cg }
func (b *failingBuilder) abort()                  { b.aborted = true }
func (b *failingBuilder) commit() error           { return nil }

// TestNewContainerLeavesNothing: a build that fails leaves no state dir and
// its cgroup removed; an id already taken is ErrExist, and the dir that has
// it is not touched.
func TestNewContainerLeavesNothing(t *testing.T) {
	root := &Root{Path: t.TempDir()}
	var events []string
	gone := make(chan struct{})
	close(gone) // an empty cgroup
	b := &failingBuilder{cg: &fakeCgroup{gone: gone, events: &events}}
	cfg := &configs.Config{}
	if _, err := root.newContainer("c1", cfg, "/b", b, "", ""); err == nil || err.Error() != "init failed" {
		t.Fatalf("newContainer: %v, want the build's error", err)
	}
	if !b.aborted || len(events) != 1 {
		t.Errorf("aborted %v, cgroup events %v: want abort and the cgroup removed", b.aborted, events)
	}
	if _, err := os.Stat(root.dir("c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir left after a failed build: %v", err)
	}

	if err := os.Mkdir(root.dir("c2"), 0o711); err != nil {
		t.Fatal(err)
	}
	b = &failingBuilder{}
	_, err := root.newContainer("c2", cfg, "/b", b, "", "")
	if !errors.Is(err, ErrExist) || err.Error() != "container with id exists: c2" {
		t.Errorf("taken id: %v, want ErrExist in runc's words", err)
	}
	if b.aborted {
		t.Error("a taken id aborted a build that never started")
	}
	if _, err := os.Stat(root.dir("c2")); err != nil {
		t.Errorf("the other container's dir was touched: %v", err)
	}
}
