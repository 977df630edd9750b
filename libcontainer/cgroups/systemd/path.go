// Package systemd is the --systemd-cgroup driver: systemd creates the
// container's scope (or slice) unit and holds its limits as unit properties,
// while a wrapped cgroupfs manager writes every file and does the rest.
package systemd

import (
	"fmt"
	"path"
	"strings"
)

// Unit is where the container lives in systemd's tree.
type Unit struct {
	// Name is "prefix-name.scope", "name.scope", or a slice's name when the
	// container is a slice itself.
	Name string
	// Slice is the slice a scope is started in (Slice=); for a slice unit, the
	// slice it Wants=.
	Slice string
}

// IsSlice reports whether the container's unit is a slice, which cannot
// hold processes on its own behalf: its pids are written through cgroupfs.
func (u Unit) IsSlice() bool { return strings.HasSuffix(u.Name, ".slice") }

// Dir is the unit's cgroup, from the root of systemd's hierarchy. systemd
// derives a slice's place from its name alone, so a nested slice unit lives
// where its name says, whatever the path's slice field was.
func (u Unit) Dir() (string, error) {
	if u.IsSlice() {
		return ExpandSlice(u.Name)
	}
	s, err := ExpandSlice(u.Slice)
	if err != nil {
		return "", err
	}
	return path.Join(s, u.Name), nil
}

// ParsePath reads linux.cgroupsPath the way systemd-driver clients write it,
// "slice:prefix:name" (containerd: "kubepods-pod1.slice:cri-containerd:<id>",
// podman: "machine.slice:libpod:<id>"). An empty path is
// "system.slice:ocirun:<id>", an empty slice is system.slice.
func ParsePath(cgroupsPath, id string) (Unit, error) {
	p := cgroupsPath
	if p == "" {
		p = "system.slice:ocirun:" + id
	}
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return Unit{}, fmt.Errorf("linux.cgroupsPath: %q is not \"slice:prefix:name\" as --systemd-cgroup expects", cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	if name == "" {
		return Unit{}, fmt.Errorf("linux.cgroupsPath: %q has an empty name (want \"slice:prefix:name\")", cgroupsPath)
	}
	if strings.ContainsAny(prefix+name, "/\x00") {
		return Unit{}, fmt.Errorf("linux.cgroupsPath: %q: prefix and name must not contain \"/\"", cgroupsPath)
	}
	if _, err := ExpandSlice(slice); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath: %q: %w", cgroupsPath, err)
	}
	u := Unit{Slice: slice}
	switch {
	case strings.HasSuffix(name, ".slice"):
		if _, err := ExpandSlice(name); err != nil {
			return Unit{}, fmt.Errorf("linux.cgroupsPath: %q: %w", cgroupsPath, err)
		}
		u.Name = name
	case prefix == "":
		u.Name = name + ".scope"
	default:
		u.Name = prefix + "-" + name + ".scope"
	}
	return u, nil
}

// ExpandSlice turns a slice name into its cgroup path: each "-" opens a
// level, "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice and "-.slice" is
// the root.
func ExpandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" {
		return "", fmt.Errorf("slice %q: a slice name ends in \".slice\"", slice)
	}
	if base == "-" {
		return "/", nil
	}
	if strings.Contains(base, "/") {
		return "", fmt.Errorf("slice %q: must not contain \"/\"", slice)
	}
	if strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("slice %q: \"-\" separates levels and cannot lead, trail or repeat", slice)
	}
	var b strings.Builder
	prefix := ""
	for _, part := range strings.Split(base, "-") {
		prefix += part
		b.WriteString("/" + prefix + ".slice")
		prefix += "-"
	}
	return b.String(), nil
}
