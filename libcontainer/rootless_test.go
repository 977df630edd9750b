package libcontainer

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestLimitField(t *testing.T) {
	lim, shares := int64(1<<20), uint64(512)
	for _, tc := range []struct {
		r    *configs.Resources
		want string
	}{
		{nil, ""},
		{&configs.Resources{}, ""},
		// Device rules alone are no limit: podman's default deny-all list.
		{&configs.Resources{Devices: []configs.DeviceRule{{Type: 'a', Major: -1, Minor: -1, Access: "rwm"}}}, ""},
		{&configs.Resources{Memory: &configs.Memory{}}, ""},
		{&configs.Resources{CPU: &configs.CPU{}}, ""},
		{&configs.Resources{Memory: &configs.Memory{Limit: &lim}}, "memory"},
		{&configs.Resources{CPU: &configs.CPU{Shares: &shares}}, "cpu"},
		{&configs.Resources{CPU: &configs.CPU{Cpus: "0"}}, "cpu"},
		{&configs.Resources{Pids: &configs.Pids{}}, "pids"},
		{&configs.Resources{Unified: map[string]string{"memory.high": "1M"}}, "unified"},
	} {
		if got := limitField(tc.r); got != tc.want {
			t.Errorf("limitField(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

// TestRootlessCgroup: rootlessCgroup forgives only a permission error, and only
// without limits.
func TestRootlessCgroup(t *testing.T) {
	lim := int64(1 << 20)
	noLimits := &configs.Config{}
	withLimit := &configs.Config{Cgroups: configs.Cgroup{Resources: &configs.Resources{Memory: &configs.Memory{Limit: &lim}}}}
	denied := fmt.Errorf("mkdir /sys/fs/cgroup/x: %w", unix.EACCES)
	var warned []string
	warn := func(s string) { warned = append(warned, s) }

	m, err := rootlessCgroup(noLimits, nil, denied, warn)
	if err != nil || m == nil || len(m.Paths()) != 0 || len(warned) != 1 {
		t.Errorf("no limits, EACCES: %v, %v, warnings %q; want no cgroup and a warning", m, err, warned)
	}
	if _, err := rootlessCgroup(withLimit, nil, denied, warn); err == nil || !strings.HasPrefix(err.Error(), "linux.resources.memory: a limit needs a cgroup") {
		t.Errorf("a memory limit, EACCES: %v; want refused naming the field", err)
	}
	other := errors.New("no cgroup hierarchy is mounted")
	if _, err := rootlessCgroup(noLimits, nil, other, warn); !errors.Is(err, other) {
		t.Errorf("another error: %v; want it returned", err)
	}
}

func TestOwnID(t *testing.T) {
	for _, tc := range []struct {
		maps []configs.IDMap
		want bool
	}{
		{[]configs.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}, true},
		{[]configs.IDMap{{ContainerID: 5, HostID: 1000, Size: 1}}, true},
		{[]configs.IDMap{{ContainerID: 0, HostID: 1000, Size: 2}}, false},
		{[]configs.IDMap{{ContainerID: 0, HostID: 1001, Size: 1}}, false},
		{[]configs.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}, false},
		{nil, false},
	} {
		if got := ownID(tc.maps, 1000); got != tc.want {
			t.Errorf("ownID(%v, 1000) = %v, want %v", tc.maps, got, tc.want)
		}
	}
}
