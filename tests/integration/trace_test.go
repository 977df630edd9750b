package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// TestTrace checks that OCIRUN_TRACE records every phase of create, start and
// delete, including the phases inside init, with durations that add up.
func TestTrace(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("exit", "0"))
	if !bundle.IsOcirun(t) {
		t.Skip("--trace is ocirun's own feature")
	}
	file := filepath.Join(t.TempDir(), "trace.json")
	env := bundle.RunOpts{Env: []string{"OCIRUN_TRACE=" + file}}
	for _, args := range [][]string{
		{"create", "--bundle", b.Dir, b.ID},
		{"start", b.ID},
	} {
		if r := b.RunWith(t, env, args...); r.Code != 0 {
			t.Fatalf("%s", r)
		}
	}
	b.WaitStatus(t, "stopped", bundle.CommandTimeout)
	if r := b.RunWith(t, env, "delete", b.ID); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	type span struct {
		Cmd, Phase, In string
		Start          float64 `json:"start_ms"`
		Dur            float64 `json:"dur_ms"`
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]span{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s span
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if s.Dur < 0 || s.Start < 0 {
			t.Errorf("negative timing: %+v", s)
		}
		seen[s.Cmd+"/"+s.In+"/"+s.Phase] = s
	}
	for _, want := range []string{
		"create//validate", "create//state-dir", "create//cgroup", "create//fifo", "create//seal",
		"create//clone", "create//namespace-stage", "create//init", "create//save-state", "create//total",
		"create/init/mounts", "create/init/hooks", "create/init/pivot", "create/init/finalize", "create/init/security",
		"start//start", "start//total", "delete//delete", "delete//total",
	} {
		if _, ok := seen[want]; !ok {
			t.Errorf("trace has no %s span", want)
		}
	}
	if c, i := seen["create//total"], seen["create//init"]; i.Dur > c.Dur {
		t.Errorf("init phase %.3f ms longer than the whole create %.3f ms", i.Dur, c.Dur)
	}
}
