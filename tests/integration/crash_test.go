package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// envTraceStop is libcontainer/trace.EnvStop: with --trace, the command
// stops itself (SIGSTOP) right after it records that phase.
const envTraceStop = "OCIRUN_TRACE_STOP"

// crashCase is one command killed at each of its phases.
type crashCase struct {
	name  string
	probe []string // the container's process
	// setup brings the container where the command needs it.
	setup func(t *testing.T, b *bundle.Bundle)
	args  func(b *bundle.Bundle) []string
}

var crashCases = []crashCase{
	{
		name: "create", probe: []string{"sleep", "600"},
		setup: func(*testing.T, *bundle.Bundle) {},
		args:  func(b *bundle.Bundle) []string { return []string{"create", "--bundle", b.Dir, b.ID} },
	},
	{
		// Foreground, so that every phase of run is reached: the process
		// exits at once.
		name: "run", probe: []string{"exit", "0"},
		setup: func(*testing.T, *bundle.Bundle) {},
		args:  func(b *bundle.Bundle) []string { return []string{"run", "--bundle", b.Dir, b.ID} },
	},
	{
		name: "start", probe: []string{"sleep", "600"},
		setup: func(t *testing.T, b *bundle.Bundle) { b.Create(t) },
		args:  func(b *bundle.Bundle) []string { return []string{"start", b.ID} },
	},
	{
		name: "exec", probe: []string{"sleep", "600"},
		setup: func(t *testing.T, b *bundle.Bundle) { b.RunDetached(t) },
		args:  func(b *bundle.Bundle) []string { return []string{"exec", b.ID, bundle.ProbePath, "exit", "0"} },
	},
	{
		name: "update", probe: []string{"sleep", "600"},
		setup: func(t *testing.T, b *bundle.Bundle) { b.RunDetached(t) },
		args:  func(b *bundle.Bundle) []string { return []string{"update", "--pids-limit", "100", b.ID} },
	},
	{
		name: "delete", probe: []string{"sleep", "600"},
		setup: func(t *testing.T, b *bundle.Bundle) { b.RunDetached(t) },
		args:  func(b *bundle.Bundle) []string { return []string{"delete", "--force", b.ID} },
	},
}

// TestCrashConsistency kills (SIGKILL) create, run, start, exec, update and
// delete at every phase they trace, then runs `delete --force`: it must
// succeed and leave nothing, also a moment later (a create's orphaned init
// once finished its job after delete and brought the container back): no
// state dir, cgroup in any hierarchy, process, mount or open file of the
// container.
func TestCrashConsistency(t *testing.T) {
	bundle.RequireRoot(t)
	if !bundle.IsOcirun(t) {
		t.Skip("the kill points are ocirun's --trace phases")
	}
	total := 0
	for _, cc := range crashCases {
		t.Run(cc.name, func(t *testing.T) {
			phases := crashPhases(t, cc)
			if len(phases) < 2 {
				t.Fatalf("%s traces %v: too few phases to kill it at", cc.name, phases)
			}
			killed := 0
			for _, phase := range phases {
				b := bundle.New(t, bundle.WithProbe(cc.probe...))
				cc.setup(t, b)
				if !runKilledAt(t, b, cc.args(b), phase) {
					// A phase recorded for init (its own spans) is no
					// point where the runtime itself can stop.
					t.Logf("%s: %s is not a stop point", cc.name, phase)
					continue
				}
				killed++
				if r := b.Run(t, "delete", "--force", b.ID); r.Code != 0 {
					t.Errorf("killed at %s: %v", phase, r)
				}
				// The orphaned init of a killed create once recreated
				// the container ~300 ms after delete: look again later.
				time.Sleep(400 * time.Millisecond)
				if r := b.Run(t, "state", b.ID); r.Code == 0 || !strings.Contains(r.Stderr, "does not exist") {
					t.Errorf("killed at %s: state after delete --force: %v", phase, r)
				}
				// A create killed before it made the root leaves none:
				// list of a --root that is missing is an error.
				if _, err := os.Stat(b.Root); err == nil {
					if r := b.MustRun(t, "list", "-q"); strings.TrimSpace(r.Stdout) != "" {
						t.Errorf("killed at %s: list after delete --force: %q", phase, r.Stdout)
					}
				}
				b.CheckGone(t)
				for _, l := range leftoversOf(t, b) {
					t.Errorf("killed at %s: %s", phase, l)
				}
			}
			t.Logf("%s: killed at %d of %d phases %v", cc.name, killed, len(phases), phases)
			if killed < len(phases)/2 {
				t.Errorf("%s stopped at only %d of its %d phases: the kill points do not work", cc.name, killed, len(phases))
			}
			total += killed
		})
	}
	t.Logf("%d kill points", total)
}

// crashPhases runs the command once, traced, and returns its phases in order.
func crashPhases(t *testing.T, cc crashCase) []string {
	t.Helper()
	b := bundle.New(t, bundle.WithProbe(cc.probe...))
	cc.setup(t, b)
	tr := filepath.Join(t.TempDir(), "trace")
	b.MustRun(t, append([]string{"--trace", tr}, cc.args(b)...)...)
	f, err := os.Open(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var phases []string
	seen := map[string]bool{"total": true}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var span struct {
			Cmd   string `json:"cmd"`
			Phase string `json:"phase"`
		}
		if err := json.Unmarshal(sc.Bytes(), &span); err != nil {
			t.Fatalf("trace line %q: %v", sc.Text(), err)
		}
		if !seen[span.Phase] {
			seen[span.Phase] = true
			phases = append(phases, span.Phase)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	b.MustRun(t, "delete", "--force", b.ID)
	return phases
}

// runKilledAt starts the runtime with args, stopping at phase, and kills
// it there with SIGKILL. It reports false when the command ended without
// stopping (phase is not one it stops at).
func runKilledAt(t *testing.T, b *bundle.Bundle, args []string, phase string) bool {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out-")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	full := append([]string{"--root", b.Root, "--trace", filepath.Join(t.TempDir(), "trace")}, args...)
	cmd := exec.Command(bundle.Runtime(t), full...)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), envTraceStop+"="+phase)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.After(bundle.CommandTimeout)
	for {
		select {
		case <-done:
			return false
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s: neither stopped at %s nor ended", strings.Join(args, " "), phase)
		case <-time.After(time.Millisecond):
		}
		if strings.HasPrefix(procState(cmd.Process.Pid), "T") {
			cmd.Process.Kill()
			<-done
			return true
		}
	}
}

// leftoversOf finds what of b is left in the host: processes with a file,
// cwd or root in the bundle or state root (a create's init holds exec.fifo
// and is outside the cgroup until it is placed), and mounts under them.
func leftoversOf(t *testing.T, b *bundle.Bundle) []string {
	t.Helper()
	var left []string
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == self {
			continue
		}
		dir := "/proc/" + e.Name()
		links := []string{dir + "/cwd", dir + "/root"}
		fds, _ := os.ReadDir(dir + "/fd")
		for _, fd := range fds {
			links = append(links, dir+"/fd/"+fd.Name())
		}
		for _, l := range links {
			if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, b.Dir) {
				pid, _ := strconv.Atoi(e.Name())
				if bundle.ProcAlive(pid) {
					left = append(left, "process "+e.Name()+" holds "+target)
				}
				break
			}
		}
	}
	for m := range mountPoints(t) {
		if strings.HasPrefix(m, b.Dir) {
			left = append(left, "mount "+m)
		}
	}
	return left
}
