package cgfile

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadUint reads a one-value file; "max" is MaxUint64.
func ReadUint(dir, name string) (uint64, error) {
	s, err := ReadFile(dir, name)
	if err != nil {
		return 0, err
	}
	return parseUint(filepath.Join(dir, name), strings.TrimSpace(s))
}

func parseUint(file, s string) (uint64, error) {
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 shows -1 in some files (memory.soft_limit_in_bytes on old
		// kernels) for "unlimited".
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return math.MaxUint64, nil
		}
		return 0, fmt.Errorf("parse %s: %q is not a number", file, s)
	}
	return v, nil
}

// ReadKeyed reads a flat keyed file ("key value" per line: memory.stat,
// cpu.stat, memory.events, cpuacct.stat).
func ReadKeyed(dir, name string) (map[string]uint64, error) {
	s, err := ReadFile(dir, name)
	if err != nil {
		return nil, err
	}
	return ParseKeyed(filepath.Join(dir, name), s)
}

// ParseKeyed parses the content of a flat keyed file; file names it in errors.
func ParseKeyed(file, s string) (map[string]uint64, error) {
	m := map[string]uint64{}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("parse %s: bad line %q", file, l)
		}
		v, err := parseUint(file, f[1])
		if err != nil {
			return nil, err
		}
		m[f[0]] = v
	}
	return m, nil
}

// ParseDevice parses "MAJ:MIN".
func ParseDevice(s string) (major, minor uint64, err error) {
	a, b, ok := strings.Cut(s, ":")
	if ok {
		major, err = strconv.ParseUint(a, 10, 64)
		if err == nil {
			minor, err = strconv.ParseUint(b, 10, 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("bad device number %q", s)
	}
	return major, minor, nil
}

// ParseUints parses a space-separated list (cpuacct.usage_percpu).
func ParseUints(file, s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Fields(s) {
		v, err := parseUint(file, f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
