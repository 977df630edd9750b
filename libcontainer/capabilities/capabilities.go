// Package capabilities turns the capability names of a process config into the
// kernel's five capability sets and applies them in the init, around the uid switch.
package capabilities

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// Caps is a validated capability config: each set holds only capabilities the
// running kernel knows.
type Caps struct {
	bounding    []capability.Cap
	effective   []capability.Cap
	inheritable []capability.Cap
	permitted   []capability.Cap
	ambient     []capability.Cap
}

// byName maps "CAP_CHOWN" to its number for every capability the library knows,
// including ones newer than the running kernel. Built on first use: only the
// init needs it, and every ocirun command would pay it at start-up.
var byName = sync.OnceValue(func() map[string]capability.Cap {
	known := capability.ListKnown()
	m := make(map[string]capability.Cap, len(known))
	for _, c := range known {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

// lastCap is a variable so tests can pretend the kernel is older.
var lastCap = capability.LastCap

// inOwnBounding reports whether the calling thread's bounding set holds c:
// init inherits ours, and nothing outside it can be granted. A variable so
// tests can pretend the host's set is smaller.
var inOwnBounding = func(c capability.Cap) (bool, error) {
	in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
	if err != nil {
		return false, os.NewSyscallError("prctl(PR_CAPBSET_READ)", err)
	}
	return in == 1, nil
}

// New turns the names of every set into numbers. runtime-spec 1.3: a value
// that cannot be mapped to the kernel, or cannot be granted, is logged as a
// warning and the runtime should not fail, so the container runs without it
// (runc 1.4 warns in the same words):
//   - a name ocirun does not know;
//   - a name the running kernel is too old for, so one config works across
//     kernels;
//   - a capability outside our own bounding set (a host that lacks
//     CAP_SYS_RESOURCE, a nested runtime): capset would refuse it.
//
// An ambient capability missing from permitted or inheritable is dropped with
// a warning too: the kernel refuses to raise it, and runc only warns about it.
func New(c *configs.Capabilities) (*Caps, []string, error) {
	caps := &Caps{}
	if c == nil {
		return caps, nil, nil
	}
	last, err := lastCap()
	if err != nil {
		return nil, nil, fmt.Errorf("last capability of the kernel: %w", err)
	}
	var warnings []string
	unknown, ungranted := &ignored{why: "unknown"}, &ignored{why: "outside ocirun's own bounding set, cannot be granted"}
	sets := []struct {
		field string
		names []string
		dst   *[]capability.Cap
	}{
		{"bounding", c.Bounding, &caps.bounding},
		{"effective", c.Effective, &caps.effective},
		{"inheritable", c.Inheritable, &caps.inheritable},
		{"permitted", c.Permitted, &caps.permitted},
		{"ambient", c.Ambient, &caps.ambient},
	}
	for _, s := range sets {
		for i, name := range s.names {
			field := fmt.Sprintf("process.capabilities.%s[%d]", s.field, i)
			v, ok := byName()[name]
			if !ok {
				unknown.add(name, field)
				continue
			}
			if v > last {
				warnings = append(warnings, fmt.Sprintf("%s: %s is not supported by the running kernel (last is %d), ignored", field, name, last))
				continue
			}
			in, err := inOwnBounding(v)
			if err != nil {
				return nil, nil, err
			}
			if !in {
				ungranted.add(name, field)
				continue
			}
			*s.dst = append(*s.dst, v)
		}
	}
	for _, ig := range []*ignored{unknown, ungranted} {
		if w := ig.warning(); w != "" {
			warnings = append(warnings, w)
		}
	}
	ambient := caps.ambient[:0]
	for _, a := range caps.ambient {
		if !contains(caps.permitted, a) || !contains(caps.inheritable, a) {
			warnings = append(warnings, fmt.Sprintf("process.capabilities.ambient: CAP_%s is not in both permitted and inheritable, ignored", strings.ToUpper(a.String())))
			continue
		}
		ambient = append(ambient, a)
	}
	caps.ambient = ambient
	return caps, warnings, nil
}

func contains(set []capability.Cap, c capability.Cap) bool {
	for _, v := range set {
		if v == c {
			return true
		}
	}
	return false
}

// ApplyBounding drops every capability not in the bounding set from the calling
// thread's bounding set. It must run while the thread still has CAP_SETPCAP
// (uid 0 in the container, before the uid switch). Unlike the library's Apply,
// it fails instead of silently skipping when it lacks CAP_SETPCAP.
func (c *Caps) ApplyBounding() error {
	last, err := capability.LastCap()
	if err != nil {
		return fmt.Errorf("last capability of the kernel: %w", err)
	}
	for v := capability.Cap(0); v <= last; v++ {
		if contains(c.bounding, v) {
			continue
		}
		// Dropping a cap that is already gone needs no privilege; reading first
		// lets an already-reduced bounding set pass without CAP_SETPCAP.
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(v), 0, 0, 0)
		if err != nil {
			return fmt.Errorf("read bounding CAP_%s: %w", strings.ToUpper(v.String()), os.NewSyscallError("prctl", err))
		}
		if in == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(v), 0, 0, 0); err != nil {
			return fmt.Errorf("drop bounding CAP_%s: %w", strings.ToUpper(v.String()), os.NewSyscallError("prctl", err))
		}
	}
	return nil
}

// ApplyCaps sets the effective, permitted and inheritable sets of the calling
// thread, then replaces its ambient set. An ambient capability the kernel
// will not raise is a warning, in runc 1.4's words, not a failure. After a uid switch from 0 the kernel
// has cleared the effective set, but the permitted set survives when
// PR_SET_KEEPCAPS was set before the switch, and capset may only shrink it.
func (c *Caps) ApplyCaps() (warnings []string, err error) {
	p, err := capability.NewPid2(0)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	p.Clear(capability.CAPS)
	p.Set(capability.EFFECTIVE, c.effective...)
	p.Set(capability.PERMITTED, c.permitted...)
	p.Set(capability.INHERITABLE, c.inheritable...)
	if err := p.Apply(capability.CAPS); err != nil {
		return nil, fmt.Errorf("set capabilities %s: %w", p, os.NewSyscallError("capset", err))
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("clear ambient capabilities: %w", os.NewSyscallError("prctl", err))
	}
	for _, a := range c.ambient {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(a), 0, 0); err != nil {
			warnings = append(warnings, fmt.Sprintf("can't raise ambient capability CAP_%s: %v", strings.ToUpper(a.String()), err))
		}
	}
	return warnings, nil
}

// SetKeepCaps makes the calling thread keep its permitted set across a uid
// switch from 0, so ApplyCaps can still grant capabilities to a non-root user.
func SetKeepCaps() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", os.NewSyscallError("prctl", err))
	}
	return nil
}

// ClearKeepCaps undoes SetKeepCaps once the uid switch is done, so a later
// switch inside the container does not keep capabilities unexpectedly.
func ClearKeepCaps() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", os.NewSyscallError("prctl", err))
	}
	return nil
}

// RaisePermitted makes every permitted capability effective again. After a
// switch to a non-root uid with keep-caps the effective set is empty; loading
// a seccomp filter without no_new_privs then needs CAP_SYS_ADMIN effective.
func RaisePermitted() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	for i := range data {
		data[i].Effective = data[i].Permitted
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return os.NewSyscallError("capset", err)
	}
	return nil
}

// Masks returns the five sets as bit masks (bit n is capability n), for an
// init that applies them without this package.
func (c *Caps) Masks() (bounding, effective, inheritable, permitted, ambient uint64) {
	mask := func(set []capability.Cap) (m uint64) {
		for _, v := range set {
			m |= 1 << uint(v)
		}
		return m
	}
	return mask(c.bounding), mask(c.effective), mask(c.inheritable), mask(c.permitted), mask(c.ambient)
}

// ignored collects the capabilities New leaves out for one reason.
type ignored struct {
	why           string
	names, fields []string
}

func (ig *ignored) add(name, field string) {
	if !slices.Contains(ig.names, name) {
		ig.names = append(ig.names, name)
	}
	ig.fields = append(ig.fields, field)
}

// warning is runc's words, then why and where.
func (ig *ignored) warning() string {
	if len(ig.names) == 0 {
		return ""
	}
	return fmt.Sprintf("ignoring unknown or unavailable capabilities: %v (%s: %s)", ig.names, ig.why, strings.Join(ig.fields, ", "))
}
