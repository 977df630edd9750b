package integration

import (
	"os"
	"strings"
	"testing"

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
