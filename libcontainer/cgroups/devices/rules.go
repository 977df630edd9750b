// Package devices turns a container's device rule list into what each cgroup
// version enforces: v1 devices.allow/deny writes, or a v2 eBPF program.
package devices

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// Semantics shared by both versions (runc's): the list applies on top of
// "deny everything"; rules are evaluated in order and a later rule overrides
// an earlier one; an 'a' rule with full "rwm" access resets the default to
// allow or deny and makes every earlier rule irrelevant.

// Rule is a validated rule with the access spelled out and 'a' with partial
// access split into its 'c' and 'b' halves.
type Rule struct {
	Allow  bool
	Type   byte // 'c' or 'b'
	Major  int64
	Minor  int64
	Access string // non-empty subset of "rwm", in that order
}

func (r Rule) String() string {
	return fmt.Sprintf("%c %s:%s %s", r.Type, wild(r.Major), wild(r.Minor), r.Access)
}

func wild(n int64) string {
	if n < 0 {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// Normalize validates rules and returns the default decision and the rules
// that still matter after the last full wildcard, in order.
func Normalize(rules []configs.DeviceRule) (defaultAllow bool, out []Rule, err error) {
	for i, r := range rules {
		access, err := normAccess(r.Access)
		if err != nil {
			return false, nil, fmt.Errorf("linux.resources.devices[%d].access: %w", i, err)
		}
		if r.Major < -1 || r.Minor < -1 {
			return false, nil, fmt.Errorf("linux.resources.devices[%d]: major %d / minor %d out of range", i, r.Major, r.Minor)
		}
		switch r.Type {
		case 'a':
			if access == "rwm" {
				defaultAllow, out = r.Allow, nil
				continue
			}
			// v1 reads "a" as "everything" whatever follows, so a partial
			// wildcard must be spelled per type.
			out = append(out,
				Rule{Allow: r.Allow, Type: 'c', Major: -1, Minor: -1, Access: access},
				Rule{Allow: r.Allow, Type: 'b', Major: -1, Minor: -1, Access: access})
		case 'c', 'b':
			out = append(out, Rule{Allow: r.Allow, Type: byte(r.Type), Major: r.Major, Minor: r.Minor, Access: access})
		default:
			return false, nil, fmt.Errorf("linux.resources.devices[%d].type: %q is not one of a, b, c", i, r.Type)
		}
	}
	return defaultAllow, out, nil
}

// normAccess orders access as "rwm"; empty means all, as in the spec's
// examples and runc.
func normAccess(a string) (string, error) {
	if a == "" {
		return "rwm", nil
	}
	var b strings.Builder
	for _, c := range "rwm" {
		if strings.ContainsRune(a, c) {
			b.WriteRune(c)
		}
	}
	if len(strings.Trim(a, "rwm")) != 0 || b.Len() != len(a) {
		return "", fmt.Errorf("%q is not a subset of \"rwm\"", a)
	}
	return b.String(), nil
}

// V1Write is one write to a v1 devices cgroup file.
type V1Write struct {
	File  string // "devices.allow" or "devices.deny"
	Value string
}

// V1Writes returns the writes that make a v1 devices cgroup enforce rules:
// first the default for everything ("a"), then each remaining rule in order.
//
// The kernel's v1 exception list only removes exact matches, so a deny rule
// narrower than an earlier allow wildcard (allow c *:*, deny c 1:3) would be
// silently ignored: it is refused instead, as runc does (the v2 program
// enforces it).
func V1Writes(rules []configs.DeviceRule) ([]V1Write, error) {
	defAllow, rs, err := Normalize(rules)
	if err != nil {
		return nil, err
	}
	ws := []V1Write{{File: file(defAllow), Value: "a"}}
	for i, r := range rs {
		if !defAllow && !r.Allow {
			for _, e := range rs[:i] {
				if e.Allow && holeIn(e, r) {
					return nil, fmt.Errorf("device rule %q: cgroup v1 cannot deny it inside the earlier allowed %q (it removes only exact entries)", r, e)
				}
			}
		}
		ws = append(ws, V1Write{File: file(r.Allow), Value: r.String()})
	}
	return ws, nil
}

// holeIn reports whether narrow is a strict part of the wildcard rule wide
// for some access both name.
func holeIn(wide, narrow Rule) bool {
	if wide.Type != narrow.Type || !strings.ContainsAny(wide.Access, narrow.Access) {
		return false
	}
	covers := func(w, n int64) bool { return w == -1 || w == n }
	exact := wide.Major == narrow.Major && wide.Minor == narrow.Minor
	return !exact && covers(wide.Major, narrow.Major) && covers(wide.Minor, narrow.Minor)
}

func file(allow bool) string {
	if allow {
		return "devices.allow"
	}
	return "devices.deny"
}
