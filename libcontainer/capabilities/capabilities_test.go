package capabilities

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/capability"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

const childEnv = "OCIRUN_CAPS_TEST_CHILD"

func init() {
	// The child applies caps to its own thread and the capability sets are
	// per-thread: keep everything on the main thread.
	if os.Getenv(childEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := child(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0) // not reached after a successful exec
	}
	os.Exit(m.Run())
}

var testConfig = &configs.Capabilities{
	Bounding:    []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
	Effective:   []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
	Permitted:   []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
	Inheritable: []string{"CAP_NET_BIND_SERVICE"},
	Ambient:     []string{"CAP_NET_BIND_SERVICE"},
}

// child does what ocirun init does around the uid switch, prints the thread's
// sets, then execs a program as uid 1000 so its sets show what survives execve.
func child() error {
	c, warnings, err := New(testConfig)
	if err != nil {
		return err
	}
	if len(warnings) != 0 {
		return fmt.Errorf("warnings: %q", warnings)
	}
	if err := SetKeepCaps(); err != nil {
		return err
	}
	if err := c.ApplyBounding(); err != nil {
		return err
	}
	if err := syscall.Setgid(1000); err != nil {
		return err
	}
	if err := syscall.Setuid(1000); err != nil {
		return err
	}
	if err := ClearKeepCaps(); err != nil {
		return err
	}
	if _, err := c.ApplyCaps(); err != nil {
		return err
	}
	status, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return err
	}
	os.Stdout.Write(status)
	fmt.Println("--- exec ---")
	return syscall.Exec("/bin/busybox", []string{"cat", "/proc/self/status"}, nil)
}

func capLines(t *testing.T, s string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", sc.Text(), err)
		}
		m[k] = n
	}
	return m
}

func TestApplyAcrossUIDSwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: drops bounding caps and switches uid")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox to show the sets after execve")
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	before, after, ok := strings.Cut(string(out), "--- exec ---")
	if !ok {
		t.Fatalf("no exec marker in child output:\n%s", out)
	}
	const chown, bind = 1 << 0, 1 << 10
	want := map[string]uint64{
		"CapInh": bind,
		"CapPrm": chown | bind,
		"CapEff": chown | bind,
		"CapBnd": chown | bind,
		"CapAmb": bind,
	}
	if got := capLines(t, before); !reflect.DeepEqual(got, want) {
		t.Errorf("thread after ApplyCaps: got %#x, want %#x", got, want)
	}
	// execve as a non-root user: the new permitted and effective sets are
	// the ambient set; bounding and inheritable are kept.
	want = map[string]uint64{
		"CapInh": bind,
		"CapPrm": bind,
		"CapEff": bind,
		"CapBnd": chown | bind,
		"CapAmb": bind,
	}
	if got := capLines(t, after); !reflect.DeepEqual(got, want) {
		t.Errorf("after execve as uid 1000: got %#x, want %#x", got, want)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		in       *configs.Capabilities
		last     capability.Cap
		err      string
		warnings int
		warning  string           // the first warning, when given
		bounding []capability.Cap // our own bounding set, when not all
		want     *Caps
	}{
		{
			name: "nil",
			want: &Caps{},
		},
		{
			// runtime-spec 1.3: logged, not refused.
			name:     "unknown",
			in:       &configs.Capabilities{Bounding: []string{"CAP_CHOWN", "CAP_KILL", "CAP_FOO"}, Effective: []string{"CAP_FOO"}},
			warnings: 1,
			warning:  `ignoring unknown or unavailable capabilities: [CAP_FOO] (unknown: process.capabilities.bounding[2], process.capabilities.effective[0])`,
			want:     &Caps{bounding: []capability.Cap{capability.CAP_CHOWN, capability.CAP_KILL}},
		},
		{
			name:     "lowercase is unknown",
			in:       &configs.Capabilities{Effective: []string{"cap_chown", "CAP_KILL"}},
			warnings: 1,
			warning:  `ignoring unknown or unavailable capabilities: [cap_chown] (unknown: process.capabilities.effective[0])`,
			want:     &Caps{effective: []capability.Cap{capability.CAP_KILL}},
		},
		{
			// runtime-spec 1.3: what cannot be granted is logged, not refused.
			name:     "outside our bounding set",
			in:       &configs.Capabilities{Bounding: []string{"CAP_CHOWN", "CAP_SYS_RESOURCE"}, Permitted: []string{"CAP_SYS_RESOURCE", "CAP_KILL"}},
			bounding: []capability.Cap{capability.CAP_CHOWN, capability.CAP_KILL},
			warnings: 1,
			warning:  `ignoring unknown or unavailable capabilities: [CAP_SYS_RESOURCE] (outside ocirun's own bounding set, cannot be granted: process.capabilities.bounding[1], process.capabilities.permitted[0])`,
			want:     &Caps{bounding: []capability.Cap{capability.CAP_CHOWN}, permitted: []capability.Cap{capability.CAP_KILL}},
		},
		{
			name:     "newer than kernel",
			in:       &configs.Capabilities{Permitted: []string{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"}},
			last:     capability.CAP_AUDIT_READ,
			warnings: 1,
			want:     &Caps{permitted: []capability.Cap{capability.CAP_CHOWN}},
		},
		{
			name: "ambient not inheritable",
			in: &configs.Capabilities{
				Permitted: []string{"CAP_KILL"},
				Ambient:   []string{"CAP_KILL"},
			},
			warnings: 1,
			want:     &Caps{permitted: []capability.Cap{capability.CAP_KILL}, ambient: []capability.Cap{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.last != 0 {
				old := lastCap
				lastCap = func() (capability.Cap, error) { return tc.last, nil }
				t.Cleanup(func() { lastCap = old })
			}
			if tc.bounding != nil {
				old := inOwnBounding
				inOwnBounding = func(c capability.Cap) (bool, error) { return slices.Contains(tc.bounding, c), nil }
				t.Cleanup(func() { inOwnBounding = old })
			}
			got, warnings, err := New(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error: got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != tc.warnings {
				t.Errorf("warnings: got %q, want %d", warnings, tc.warnings)
			}
			if tc.warning != "" && (len(warnings) == 0 || warnings[0] != tc.warning) {
				t.Errorf("warnings: got %q, want first %q", warnings, tc.warning)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
