package devices

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func r(allow bool, typ rune, major, minor int64, access string) configs.DeviceRule {
	return configs.DeviceRule{Allow: allow, Type: typ, Major: major, Minor: minor, Access: access}
}

func TestV1Writes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []configs.DeviceRule
		want  []string // "file value"
		err   string
	}{
		{
			name:  "deny all then allows in order",
			rules: []configs.DeviceRule{r(false, 'a', -1, -1, "rwm"), r(true, 'c', 1, 3, "rwm"), r(true, 'c', 136, -1, "rw")},
			want:  []string{"devices.deny a", "devices.allow c 1:3 rwm", "devices.allow c 136:* rw"},
		},
		{
			name:  "no leading wildcard starts from deny all",
			rules: []configs.DeviceRule{r(true, 'c', 1, 3, "")},
			want:  []string{"devices.deny a", "devices.allow c 1:3 rwm"},
		},
		{
			name:  "a later full wildcard drops earlier rules",
			rules: []configs.DeviceRule{r(true, 'c', 1, 3, "rwm"), r(true, 'a', -1, -1, "mrw"), r(false, 'b', 8, 0, "w")},
			want:  []string{"devices.allow a", "devices.deny b 8:0 w"},
		},
		{
			name:  "partial wildcard is split per type",
			rules: []configs.DeviceRule{r(true, 'a', -1, -1, "r")},
			want:  []string{"devices.deny a", "devices.allow c *:* r", "devices.allow b *:* r"},
		},
		{
			name:  "deny inside an allowed wildcard is refused",
			rules: []configs.DeviceRule{r(false, 'a', -1, -1, "rwm"), r(true, 'c', -1, -1, "rwm"), r(false, 'c', 1, 6, "rw")},
			err:   `device rule "c 1:6 rw": cgroup v1 cannot deny it inside the earlier allowed "c *:* rwm"`,
		},
		{
			name:  "deny of other access than the wildcard allows",
			rules: []configs.DeviceRule{r(false, 'a', -1, -1, "rwm"), r(true, 'c', -1, -1, "m"), r(false, 'c', 1, 6, "rw")},
			want:  []string{"devices.deny a", "devices.allow c *:* m", "devices.deny c 1:6 rw"},
		},
		{
			name:  "deny of an exact earlier allow",
			rules: []configs.DeviceRule{r(false, 'a', -1, -1, "rwm"), r(true, 'c', 1, 6, "rw"), r(false, 'c', 1, 6, "w")},
			want:  []string{"devices.deny a", "devices.allow c 1:6 rw", "devices.deny c 1:6 w"},
		},
		{name: "bad type", rules: []configs.DeviceRule{r(true, 'x', 1, 1, "r")}, err: "linux.resources.devices[0].type"},
		{name: "bad access", rules: []configs.DeviceRule{r(true, 'c', 1, 1, "rx")}, err: "linux.resources.devices[0].access"},
		{name: "repeated access", rules: []configs.DeviceRule{r(true, 'c', 1, 1, "rr")}, err: "linux.resources.devices[0].access"},
	} {
		ws, err := V1Writes(tc.rules)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.File+" "+w.Value)
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestProgramVerifies loads programs into the kernel, whose verifier
// rejects malformed jumps or unsafe context reads.
func TestProgramVerifies(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root")
	}
	for _, rules := range [][]configs.DeviceRule{
		nil,
		{r(false, 'a', -1, -1, "rwm"), r(true, 'c', 1, -1, "rwm"), r(false, 'c', 1, 3, "w"), r(true, 'b', -1, 7, "m")},
		{r(true, 'a', -1, -1, "rwm"), r(false, 'a', -1, -1, "r")},
	} {
		insns, err := Program(rules)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: ProgName, Type: ebpf.CGroupDevice, Instructions: insns, License: "Apache"})
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("cgroup device programs not supported: %v", err)
		}
		if err != nil {
			t.Fatalf("rules %v: %v\n%v", rules, err, insns)
		}
		p.Close()
	}
}
