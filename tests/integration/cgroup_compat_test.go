package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCgroupPidsLimitZero: pids.limit 0 is a limit, not "no limit": the
// runtime-spec says 0 is a valid value runtimes SHOULD treat as such. runc
// 1.4 writes 1 (runc 1.1 writes max); ocirun writes 0, as the spec says.
// Either forbids every fork once the container's process is in.
func TestCgroupPidsLimitZero(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "pids.limit 0 as a limit", "1.4.0")
	want := "0"
	if bundle.IsRunc(t) {
		want = "1"
	}
	zero := int64(0)
	withZero := bundle.WithSpec(func(s *specs.Spec) { s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &zero} })

	t.Run("no-fork", func(t *testing.T) {
		t.Parallel()
		// echo is a shell builtin; cat needs a fork, which fails and ends the script.
		b := bundle.New(t, bundle.WithArgs("sh", "-c", "echo start; cat /dev/null; echo forked"), withZero)
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		if !strings.Contains(r.Stdout, "start") {
			t.Fatalf("the container did not run: %v", r)
		}
		if strings.Contains(r.Stdout, "forked") || r.Code == 0 {
			t.Errorf("the container forked under pids.limit 0: %v", r)
		}
		if !strings.Contains(r.Stdout+r.Stderr, "can't fork") {
			t.Errorf("no fork failure reported: %v", r)
		}
	})

	t.Run("pids.max", func(t *testing.T) {
		t.Parallel()
		// sleep is exec'd: the container's process never forks.
		b := bundle.New(t, bundle.WithArgs("sleep", "60"), withZero)
		b.RunDetached(t)
		if v, _ := mustCgFile(t, b, "pids.max"); v != want {
			t.Errorf("pids.max = %s with pids.limit 0, want %s", v, want)
		}
		b.MustRun(t, "update", "--pids-limit", "-1", b.ID)
		if v, _ := mustCgFile(t, b, "pids.max"); v != "max" {
			t.Errorf("pids.max = %s after update --pids-limit -1, want max", v)
		}
		b.MustRun(t, "update", "--pids-limit", "0", b.ID)
		if v, _ := mustCgFile(t, b, "pids.max"); v != want {
			t.Errorf("pids.max = %s after update --pids-limit 0, want %s", v, want)
		}
		b.MustRun(t, "update", "--pids-limit", "9", b.ID)
		stdin := tempInput(t, `{"pids":{"limit":0}}`)
		if r := b.RunWith(t, bundle.RunOpts{Stdin: stdin}, "update", "-r", "-", b.ID); r.Code != 0 {
			t.Fatalf("%v", r)
		}
		if v, _ := mustCgFile(t, b, "pids.max"); v != want {
			t.Errorf("pids.max = %s after update -r {\"pids\":{\"limit\":0}}, want %s", v, want)
		}
	})
}

// tempInput is a file holding s, opened for reading from the start.
func tempInput(t *testing.T, s string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "input")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCgroupRefuseNonEmpty: create refuses a cgroup that already holds
// processes (the runtime-spec's example of a cgroup not fit for purpose), and
// its cleanup leaves the other container alone.
func TestCgroupRefuseNonEmpty(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "refusing a non-empty cgroup", "1.2.0")
	b := bundle.New(t, bundle.WithArgs("sleep", "60"))
	b.RunDetached(t)
	pid := b.MustState(t).Pid

	// A second container from the same bundle: the same cgroupsPath.
	second := b.ID + "-2"
	for _, cmd := range [][]string{{"create", "--bundle", b.Dir, second}, {"run", "-d", "--bundle", b.Dir, second}} {
		r := b.Run(t, cmd...)
		if r.Code == 0 {
			b.Run(t, "delete", "--force", second)
			t.Fatalf("%s in a non-empty cgroup succeeded", cmd[0])
		}
		if !strings.Contains(r.Stderr, "container's cgroup is not empty: 1 process(es) found") {
			t.Errorf("%s in a non-empty cgroup: want runc's \"container's cgroup is not empty\", got %v", cmd[0], r)
		}
		if r := b.Run(t, "state", second); r.Code == 0 {
			t.Errorf("%s left container %s behind: %v", cmd[0], second, r)
		}
	}
	if st := b.MustState(t); st.Status != specs.StateRunning || st.Pid != pid {
		t.Errorf("the first container is %s (pid %d) after the refused creates, want running (pid %d)", st.Status, st.Pid, pid)
	}
}

// TestCgroupRefuseFrozen: create refuses a pre-existing frozen cgroup instead
// of starting an init that would hang in it, and leaves the cgroup as it was.
func TestCgroupRefuseFrozen(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("sleep", "60"))
	dirs, err := bundle.CgroupDirs(b.CgroupsPath)
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	// Runs before the bundle's cleanup, which wants the dirs gone.
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			thaw(made[i])
			if err := os.Remove(made[i]); err != nil {
				t.Errorf("remove the test's cgroup: %v", err)
			}
		}
	})
	frozen := ""
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		made = append(made, d)
		if frozen != "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			frozen = filepath.Join(d, "freezer.state")
			err = os.WriteFile(frozen, []byte("FROZEN"), 0)
		} else if cgroupV2() {
			frozen = filepath.Join(d, "cgroup.freeze")
			err = os.WriteFile(frozen, []byte("1"), 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if frozen == "" {
		t.Skip("no freezer")
	}
	for _, cmd := range [][]string{{"create", "--bundle", b.Dir, b.ID}, {"run", "-d", "--bundle", b.Dir, b.ID}} {
		start := time.Now()
		r := b.Run(t, cmd...)
		if r.Code == 0 {
			t.Fatalf("%s in a frozen cgroup succeeded", cmd[0])
		}
		if !strings.Contains(r.Stderr, "container's cgroup unexpectedly frozen") {
			t.Errorf("%s in a frozen cgroup: want runc's \"container's cgroup unexpectedly frozen\", got %v", cmd[0], r)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v to fail", cmd[0], d)
		}
		if r := b.Run(t, "state", b.ID); r.Code == 0 {
			t.Errorf("%s left the container behind: %v", cmd[0], r)
		}
	}
	for _, d := range made {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("the refused create removed the caller's cgroup %s", d)
		}
	}
}

// thaw undoes the freeze of a cgroup dir the test made.
func thaw(dir string) {
	_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
	_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
}
