package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLogJSONError checks the line containerd's shim reads from log.json on a
// failure: the last "level":"error" line carries the message it shows users.
func TestLogJSONError(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("exit", "0"))
	b.Edit(t, func(s *specs.Spec) { s.Process.Cwd = "tmp" })
	logFile := filepath.Join(t.TempDir(), "log.json")
	r := b.Run(t, "--log", logFile, "--log-format", "json", "create", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("create with a relative cwd succeeded: %v", r)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if m["level"] == "error" {
			last = m
		}
	}
	if last == nil {
		t.Fatalf("no error line in %q", data)
	}
	msg, _ := last["msg"].(string)
	if _, err := time.Parse(time.RFC3339Nano, last["time"].(string)); err != nil {
		t.Errorf("time %v: %v", last["time"], err)
	}
	if bundle.IsOcirun(t) && !strings.Contains(msg, `process.cwd`) {
		t.Errorf("error msg %q does not name process.cwd", msg)
	}
	if !strings.Contains(strings.ToLower(r.Stderr), "cwd") {
		t.Errorf("stderr %q does not report the error", r.Stderr)
	}
	b.CheckGone(t)
}

// TestKillAll checks that kill --all reaches every process in the container,
// not only its init.
func TestKillAll(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "trap '' TERM; /bin/probe sleep 60 & /bin/probe sleep 60 & wait"))
	b.RunDetached(t)
	st := b.MustState(t)
	var pids []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(filepath.Join("/proc", itoa(st.Pid), "task", itoa(st.Pid), "children"))
		pids = strings.Fields(string(data))
		if len(pids) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(pids) != 2 {
		t.Fatalf("init %d has children %v, want 2 probes", st.Pid, pids)
	}
	b.MustRun(t, "kill", "--all", b.ID, "KILL")
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	for _, p := range pids {
		if _, err := os.Stat("/proc/" + p); err == nil {
			if data, _ := os.ReadFile("/proc/" + p + "/stat"); !strings.Contains(string(data), ") Z") {
				t.Errorf("child %s survived kill --all", p)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
