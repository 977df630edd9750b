package libcontainer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/internal/state"
)

// FuzzLoadState: whatever a crash or another program left in state.json
// and config.json, loading either returns an error naming the file, or a
// state that saves and loads back to itself. Nothing panics.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"id":"c","initPid":42,"initStartTime":7,"bundle":"/b","rootfs":"/b/rootfs","created":"2024-01-02T03:04:05.000000006Z","owner":"","annotations":{"a":"b"},"cgroupPaths":{"/sys/fs/cgroup/memory":"/sys/fs/cgroup/memory/c"}}`),
		[]byte(`{"ociVersion":"1.2.0","rootfs":"/b/rootfs","process":{"args":["sh"],"cwd":"/"}}`))
	f.Add([]byte(`{"id":"c","initPid":`), []byte(`{`))
	f.Add([]byte(``), []byte(``))
	f.Add([]byte(`{"id":"c","systemdUnit":"ocirun-c.scope","created":"not a time"}`), []byte(`null`))
	f.Add([]byte(`{"id":"c","initPid":"one"}`), []byte(`{"mounts":[{"destination":1}]}`))
	root := &Root{Path: f.TempDir()}
	dir := root.dir("c")
	if err := os.Mkdir(dir, 0o711); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stateJSON, config []byte) {
		if err := os.WriteFile(filepath.Join(dir, state.StateFile), stateJSON, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, state.ConfigFile), config, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := root.Load("c")
		if err != nil {
			if !strings.Contains(err.Error(), filepath.Join(dir, state.StateFile)) && !strings.Contains(err.Error(), filepath.Join(dir, state.ConfigFile)) {
				t.Fatalf("error names neither file: %v", err)
			}
			return
		}
		st := c.State()
		b, err := plainjson.Marshal(st)
		if err != nil {
			t.Fatalf("loaded state does not save: %v", err)
		}
		var again State
		if err := plainjson.Unmarshal(b, &again); err != nil {
			t.Fatalf("saved state %s does not load: %v", b, err)
		}
		again.Config = st.Config
		if !reflect.DeepEqual(&again, st) && !st.Created.Equal(again.Created) {
			t.Fatalf("state changed in a save and load:\n%#v\n%#v", st, &again)
		}
	})
}
