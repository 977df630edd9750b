package specconv

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// defaultDevice is a node the runtime always creates in /dev (and so must
// allow in the device cgroup): runtime-spec config-linux.md "Default Devices".
type defaultDevice struct {
	path         string
	major, minor int64
}

var defaultDevices = []defaultDevice{
	{"/dev/null", 1, 3},
	{"/dev/zero", 1, 5},
	{"/dev/full", 1, 7},
	{"/dev/random", 1, 8},
	{"/dev/urandom", 1, 9},
	{"/dev/tty", 5, 0},
	{"/dev/ptmx", 5, 2},
}

// defaultRules are appended after the spec's rules, as runc does: users and
// engines (Docker, containerd) rely on them being there even after a
// "deny all" rule. mknod is allowed for any device because creating a node
// grants nothing until it can also be opened.
//
// A node of linux.devices gets no rule of its own: linux.resources.devices
// alone says whether it can be opened, as in runc (the runtime-spec makes
// the node available, the allowlist is the config's). So a node the config
// denies stays denied, and Docker, containerd and podman, which list an
// allow rule beside each device they add, are not affected.
func defaultRules(devs []specs.LinuxDevice) []configs.DeviceRule {
	rules := []configs.DeviceRule{
		{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"},
		{Allow: true, Type: 'b', Major: -1, Minor: -1, Access: "m"},
	}
next:
	for _, d := range defaultDevices {
		// A spec device at the same path replaces the default one, and
		// its rule with it.
		for _, sd := range devs {
			if sd.Path == d.path {
				continue next
			}
		}
		rules = append(rules, configs.DeviceRule{Allow: true, Type: 'c', Major: d.major, Minor: d.minor, Access: "rwm"})
	}
	// /dev/pts/*: the devpts instance's terminals.
	return append(rules, configs.DeviceRule{Allow: true, Type: 'c', Major: 136, Minor: -1, Access: "rwm"})
}

func convertDevices(in []specs.LinuxDevice, c *configs.Config, ps *problem.List) {
	seen := make(map[string]int)
	for i, d := range in {
		field := fmt.Sprintf("linux.devices[%d]", i)
		if p := checkAbs(field+".path", d.Path); p != nil {
			ps.Add(p)
			continue
		}
		if j, dup := seen[d.Path]; dup {
			ps.Errorf(field+".path", d.Path, "one entry per device node", "%q already used by linux.devices[%d]", d.Path, j)
			continue
		}
		seen[d.Path] = i
		var t rune
		switch d.Type {
		case "c", "u":
			t = 'c'
		case "b":
			t = 'b'
		case "p":
			t = 'p'
		default:
			ps.Errorf(field+".type", d.Type, `"c" (character, or "u" unbuffered), "b" (block) or "p" (fifo)`, "unknown device type %s, want c, b, u or p", problem.Q(d.Type))
			continue
		}
		if t != 'p' && (d.Major < 0 || d.Minor < 0) {
			ps.Errorf(field, fmt.Sprintf("%d:%d", d.Major, d.Minor), "major and minor are the node's numbers as ls -l /dev shows them", "major and minor must be >= 0, got %d:%d", d.Major, d.Minor)
			continue
		}
		// runc's default, and what a freshly made devtmpfs node gets.
		mode := uint32(0o666)
		if d.FileMode != nil {
			// Keep permission bits only: the type comes from d.Type, and Go's
			// os.FileMode type bits mean nothing to mknod(2).
			mode = uint32(*d.FileMode) & 0o7777
		}
		dev := configs.Device{Type: t, Path: d.Path, Major: d.Major, Minor: d.Minor, FileMode: mode}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		c.Devices = append(c.Devices, dev)
	}
}
