package systemd

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

const fakeProcDevices = `Character devices:
  1 mem
  4 /dev/vc/0
  4 tty
  4 ttyS
  5 /dev/tty
136 pts
180 usb
189 usb_device
240 dup
241 dup

Block devices:
  7 loop
  8 sd
 65 sd
259 blkext
`

func TestDeviceProperties(t *testing.T) {
	rule := func(allow bool, typ rune, major, minor int64, access string) configs.DeviceRule {
		return configs.DeviceRule{Allow: allow, Type: typ, Major: major, Minor: minor, Access: access}
	}
	denyAll := rule(false, 'a', -1, -1, "rwm")
	for _, tc := range []struct {
		name  string
		rules []configs.DeviceRule
		want  []string // DevicePolicy, then the final DeviceAllow entries
		notes []string // substrings, one per note
		err   string
	}{
		{name: "no rules: unit untouched"},
		{
			name:  "allow all",
			rules: []configs.DeviceRule{denyAll, rule(true, 'c', 1, 3, "rwm"), rule(true, 'a', -1, -1, "rwm")},
			want:  []string{"auto"},
		},
		{
			name:  "allow all but one",
			rules: []configs.DeviceRule{rule(true, 'a', -1, -1, "rwm"), rule(false, 'c', 1, 3, "rwm")},
			want:  []string{"auto"},
			notes: []string{`"c 1:3 rwm": systemd cannot deny a device on top of allow-all`},
		},
		{
			name: "container defaults",
			rules: []configs.DeviceRule{
				denyAll,
				rule(true, 'c', -1, -1, "m"), rule(true, 'b', -1, -1, "m"),
				rule(true, 'c', 1, 3, "rwm"), rule(true, 'c', 136, -1, "rwm"), rule(true, 'c', 5, 1, "rw"),
			},
			want: []string{"strict", "char-* m", "block-* m", "/dev/char/1:3 rwm", "char-pts rwm", "/dev/char/5:1 rw"},
		},
		{
			name:  "partial wildcard type a",
			rules: []configs.DeviceRule{rule(true, 'a', -1, -1, "r")},
			want:  []string{"strict", "char-* r", "block-* r"},
		},
		{
			name:  "deny takes access away",
			rules: []configs.DeviceRule{rule(true, 'c', 1, 3, "rwm"), rule(true, 'b', 7, 0, "rw"), rule(false, 'c', 1, 3, "w"), rule(false, 'b', -1, -1, "rw")},
			want:  []string{"strict", "/dev/char/1:3 rm"},
		},
		{
			name:  "deny inside a wildcard cannot be said",
			rules: []configs.DeviceRule{rule(true, 'c', -1, -1, "rwm"), rule(false, 'c', 1, 3, "rwm")},
			want:  []string{"strict", "char-* rwm"},
			notes: []string{`"c 1:3 rwm": systemd cannot deny part of the allowed c *:*`},
		},
		{
			name: "majors without a name of their own",
			rules: []configs.DeviceRule{
				rule(true, 'c', 4, -1, "rw"), rule(true, 'c', 240, -1, "r"), rule(true, 'b', 8, -1, "r"),
				rule(true, 'c', 99, -1, "r"), rule(true, 'b', 7, -1, "r"), rule(true, 'c', -1, 0, "r"),
			},
			want: []string{"strict", "char-tty rw", "block-loop r"},
			notes: []string{
				`"c 240:* r": no name in /proc/devices`, `"b 8:* r": no name`, `"c 99:* r": no name`,
				`"c *:0 r": systemd cannot name one minor of every major`,
			},
		},
		{
			name:  "invalid access",
			rules: []configs.DeviceRule{rule(true, 'c', 1, 3, "x")},
			err:   "linux.resources.devices[0].access",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			props, notes, err := deviceProperties(tc.rules, fakeProcDevices)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if len(props) > 0 {
				if props[0].Name != "DevicePolicy" || props[1].Name != "DeviceAllow" || len(props[1].Value.Value().([]deviceAllow)) != 0 {
					t.Fatalf("want DevicePolicy then an empty DeviceAllow (reset) first, got %v", propList(props))
				}
				got = append(got, props[0].Value.Value().(string))
				for _, p := range props[2:] {
					for _, a := range p.Value.Value().([]deviceAllow) {
						got = append(got, a.Path+" "+a.Perms)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if len(notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %d like %q", notes, len(tc.notes), tc.notes)
			}
			for i, n := range tc.notes {
				if !strings.Contains(notes[i], n) {
					t.Errorf("note %d = %q, want it to contain %q", i, notes[i], n)
				}
			}
		})
	}
}

func TestParseProcDevices(t *testing.T) {
	pd := parseProcDevices(fakeProcDevices)
	got := fmt.Sprint(pd['c'][4], pd['b'][8], pd['b'][259])
	if want := "[/dev/vc/0 tty ttyS] [sd] [blkext]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
