package state

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestStatusTransitions(t *testing.T) {
	for _, tc := range []struct {
		s                  Status
		start, signal, del bool
		name               string
	}{
		{Created, true, true, true, "created"},
		{Running, false, true, false, "running"},
		{Paused, false, true, false, "paused"},
		{Stopped, false, false, true, "stopped"},
		{Creating, false, false, false, "creating"},
	} {
		if tc.s.String() != tc.name || tc.s.CanStart() != tc.start || tc.s.CanSignal() != tc.signal || tc.s.CanDelete() != tc.del {
			t.Errorf("%v: start %v signal %v delete %v", tc.s, tc.s.CanStart(), tc.s.CanSignal(), tc.s.CanDelete())
		}
	}
}

// container is a state dir and its loaded state.
type container struct {
	dir   string
	state *State
}

func (c *container) Status() Status { return c.state.Derive(c.dir, nil) }

// newState saves a state for pid into a temp container dir.
func newState(t *testing.T, pid int) *container {
	t.Helper()
	dir := t.TempDir()
	st := &State{ID: "c", InitPid: pid, Created: time.Now(), Config: &configs.Config{}}
	if pid > 0 {
		start, _, err := ProcStat(pid)
		if err != nil {
			t.Fatal(err)
		}
		st.InitStart = start
	}
	if err := Save(dir, st); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &container{dir: dir, state: loaded}
}

func TestStatusIsDerived(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := newState(t, cmd.Process.Pid)
	if got := c.Status(); got != Running {
		t.Fatalf("live init: %v, want running", got)
	}
	if err := os.WriteFile(filepath.Join(c.dir, FifoName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := c.Status(); got != Created {
		t.Fatalf("live init with exec.fifo: %v, want created", got)
	}
	// A recycled pid (same pid, other start time) is not our init.
	c.state.InitStart++
	if got := c.Status(); got != Stopped {
		t.Fatalf("start time mismatch: %v, want stopped", got)
	}
	c.state.InitStart--
	cmd.Process.Kill()
	// Unreaped, the init is a zombie: that is stopped too.
	deadline := time.Now().Add(5 * time.Second)
	for c.Status() != Stopped && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := c.Status(); got != Stopped {
		t.Fatalf("killed init: %v, want stopped", got)
	}
	if got := newState(t, 0).Status(); got != Stopped {
		t.Fatalf("no pid: %v, want stopped", got)
	}
}

func TestSaveStateIsAtomic(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"a", "b"} {
		if _, err := SaveConfig(dir, &configs.Config{Hostname: id}); err != nil {
			t.Fatal(err)
		}
		if err := Save(dir, &State{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temp files left: %v", ents)
	}
	st, err := Load(dir)
	if err != nil || st.ID != "b" {
		t.Fatalf("loaded %+v, %v", st, err)
	}
}

// TestLoadConfigKnown checks that config.json is decoded again only when
// its bytes differ from the known ones.
func TestLoadConfigKnown(t *testing.T) {
	dir := t.TempDir()
	raw, err := SaveConfig(dir, &configs.Config{Hostname: "one"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, got, err := LoadConfig(dir, raw)
	if err != nil || cfg != nil || !bytes.Equal(got, raw) {
		t.Fatalf("unchanged: cfg %v, same bytes %v, %v; want no decode", cfg, bytes.Equal(got, raw), err)
	}
	if cfg, _, err = LoadConfig(dir, nil); err != nil || cfg == nil || cfg.Hostname != "one" {
		t.Fatalf("nothing known: %+v, %v", cfg, err)
	}
	// `update` rewrites it: the old bytes no longer match.
	if _, err := SaveConfig(dir, &configs.Config{Hostname: "two"}); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err = LoadConfig(dir, raw); err != nil || cfg == nil || cfg.Hostname != "two" {
		t.Fatalf("changed: %+v, %v", cfg, err)
	}
}

func TestProcStatParsesOddComm(t *testing.T) {
	// A comm with spaces and parens must not shift the fields.
	cmd := exec.Command("sh", "-c", "exec -a 'a) (b c' sleep 30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(50 * time.Millisecond)
	start, state, err := ProcStat(cmd.Process.Pid)
	if err != nil || start == 0 || state == 0 {
		t.Fatalf("start %d state %q err %v", start, state, err)
	}
}

// TestCreatorDerivesCreating: a state.json that records no init yet is
// creating while its creator runs, and stopped once the creator died (killed
// mid-create: delete then removes what it left).
func TestCreatorDerivesCreating(t *testing.T) {
	dir := t.TempDir()
	st := &State{ID: "c"}
	if err := st.RecordCreator(); err != nil {
		t.Fatal(err)
	}
	if got := st.Derive(dir, nil); got != Creating {
		t.Fatalf("creator alive: %v, want creating", got)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	st.CreatorPid = cmd.Process.Pid
	if got := st.Derive(dir, nil); got != Stopped {
		t.Fatalf("creator dead: %v, want stopped", got)
	}
}
