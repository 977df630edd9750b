package systemd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ocirun/ocirun/libcontainer/cgroups/devices"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// deviceAllow is one DeviceAllow= entry; D-Bus signature (ss).
type deviceAllow struct {
	Path  string
	Perms string
}

// devEntry is an allowed device set while the rules are folded.
type devEntry struct {
	typ          byte
	major, minor int64
	access       string
}

// deviceProperties mirrors the container's device rules in the unit, so
// that systemd re-applying the unit (daemon-reload, on v1 a rewrite of the
// devices cgroup) does not widen the container's access. systemd only has an
// allow list; what it cannot say exactly is left out (narrower, never
// wider) and reported in notes, the cgroupfs rules enforce it anyway.
// procDevices is the text of /proc/devices, for whole-major rules.
func deviceProperties(rules []configs.DeviceRule, procDevices string) (props []sddbus.Property, notes []string, err error) {
	if len(rules) == 0 {
		return nil, nil, nil
	}
	defAllow, rs, err := devices.Normalize(rules)
	if err != nil {
		return nil, nil, err
	}
	if defAllow {
		for _, r := range rs {
			if !r.Allow {
				notes = append(notes, fmt.Sprintf("device rule %q: systemd cannot deny a device on top of allow-all, the unit allows every device", r))
			}
		}
		return []sddbus.Property{prop("DevicePolicy", "auto"), prop("DeviceAllow", []deviceAllow{})}, notes, nil
	}
	var entries []devEntry
	for _, r := range rs {
		if r.Allow {
			entries = append(entries, devEntry{r.Type, r.Major, r.Minor, r.Access})
			continue
		}
		kept := entries[:0]
		for _, e := range entries {
			switch {
			case e.typ != r.Type || !strings.ContainsAny(e.access, r.Access):
			case covers(r.Major, e.major) && covers(r.Minor, e.minor):
				e.access = strings.Map(func(c rune) rune {
					if strings.ContainsRune(r.Access, c) {
						return -1
					}
					return c
				}, e.access)
			case covers(e.major, r.Major) && covers(e.minor, r.Minor):
				notes = append(notes, fmt.Sprintf("device rule %q: systemd cannot deny part of the allowed %c %s:%s, the unit allows it", r, e.typ, wild(e.major), wild(e.minor)))
			}
			if e.access != "" {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	names := parseProcDevices(procDevices)
	allow := []deviceAllow{}
	for _, e := range entries {
		kind := map[byte]string{'c': "char", 'b': "block"}[e.typ]
		switch {
		case e.major >= 0 && e.minor >= 0:
			allow = append(allow, deviceAllow{fmt.Sprintf("/dev/%s/%d:%d", kind, e.major, e.minor), e.access})
		case e.major < 0 && e.minor < 0:
			allow = append(allow, deviceAllow{kind + "-*", e.access})
		case e.minor < 0:
			name, ok := names.unique(e.typ, e.major)
			if !ok {
				notes = append(notes, fmt.Sprintf("device rule \"%c %d:* %s\": no name in /proc/devices for that major alone, left out of the unit", e.typ, e.major, e.access))
				continue
			}
			allow = append(allow, deviceAllow{kind + "-" + name, e.access})
		default:
			notes = append(notes, fmt.Sprintf("device rule \"%c *:%d %s\": systemd cannot name one minor of every major, left out of the unit", e.typ, e.minor, e.access))
		}
	}
	// An empty DeviceAllow first: systemd appends to the list otherwise, and
	// an update must be able to take a device away.
	return []sddbus.Property{
		prop("DevicePolicy", "strict"),
		prop("DeviceAllow", []deviceAllow{}),
		prop("DeviceAllow", allow),
	}, notes, nil
}

func covers(wide, n int64) bool { return wide == -1 || wide == n }

func wild(n int64) string {
	if n < 0 {
		return "*"
	}
	return strconv.FormatInt(n, 10)
}

// procDevices is /proc/devices: per type, the names of each major.
type procDevices map[byte]map[int64][]string

func parseProcDevices(text string) procDevices {
	pd := procDevices{'c': {}, 'b': {}}
	var typ byte
	for _, l := range strings.Split(text, "\n") {
		switch strings.TrimSpace(l) {
		case "Character devices:":
			typ = 'c'
			continue
		case "Block devices:":
			typ = 'b'
			continue
		}
		f := strings.Fields(l)
		if typ == 0 || len(f) != 2 {
			continue
		}
		major, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		pd[typ][major] = append(pd[typ][major], f[1])
	}
	return pd
}

// unique returns a name of major that no other major of its type shares:
// systemd's "char-<name>" allows every major with that name.
func (pd procDevices) unique(typ byte, major int64) (string, bool) {
	for _, n := range pd[typ][major] {
		if strings.Contains(n, "/") {
			continue
		}
		shared := false
		for m, ns := range pd[typ] {
			if m != major && slices.Contains(ns, n) {
				shared = true
				break
			}
		}
		if !shared {
			return n, true
		}
	}
	return "", false
}
