// Package specconv turns an OCI bundle's config.json into the normalized
// configs.Config, rejecting anything invalid or not yet implemented by name.
package specconv

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// LoadSpec reads <bundle>/config.json. Unknown JSON properties are ignored,
// as the runtime-spec requires.
func LoadSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(path, data)
}

// ParseSpec decodes config.json's content; path names it in errors.
func ParseSpec(path string, data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	if err := plainjson.Unmarshal(data, &spec); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, fmt.Errorf("%s: invalid JSON at offset %d: %w", path, syntaxErr.Offset, err)
		case errors.As(err, &typeErr):
			return nil, fmt.Errorf("%s: field %q at offset %d: cannot use JSON %s as %s", path, typeErr.Field, typeErr.Offset, typeErr.Value, typeErr.Type)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &spec, nil
}

// LoadProblem is a LoadSpec error as a problem: the JSON path of a field
// of the wrong type, the whole file otherwise.
func LoadProblem(err error) *problem.Problem {
	p := &problem.Problem{Path: "", Problem: err.Error(), Severity: problem.Error,
		Hint: "config.json must be a JSON object as the runtime-spec describes (`ocirun spec` writes one)"}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		p.Value = "JSON " + typeErr.Value
		p.Hint = fmt.Sprintf("%s must be a JSON value that decodes to Go %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &syntaxErr):
		p.Hint = "fix the JSON syntax at that offset (`python3 -m json.tool config.json` shows where)"
	case errors.Is(err, os.ErrNotExist):
		p.Hint = "--bundle must name a directory holding config.json (`ocirun spec` writes one)"
	}
	return p
}

// Options carry what the command line knows and the spec does not.
type Options struct {
	ID       string // container id (already validated)
	Bundle   string // absolute bundle dir; root.path is relative to it
	NoPivot  bool
	Rootless bool
	// SystemdCgroup: systemd makes the container's cgroup (--systemd-cgroup).
	SystemdCgroup bool
	// NotifySocket is the caller's $NOTIFY_SOCKET, passed through to the
	// container; NotifyDir is the host directory where the runtime puts the
	// container's end (libcontainer.Root.NotifyDir).
	NotifySocket, NotifyDir string
}

// ToConfig validates spec and returns the normalized config, or the first
// problem Validate finds. Errors name the JSON path of the offending field
// and its value.
func ToConfig(spec *specs.Spec, opts Options) (*configs.Config, error) {
	c, ps := Validate(spec, opts)
	if err := ps.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every field of spec in one pass and returns every
// problem, in the order of the fields' checks (the first error is what
// create fails with), and the config built from what was valid: complete
// when there is no error. It inspects nothing on the host but root.path.
func Validate(spec *specs.Spec, opts Options) (*configs.Config, problem.List) {
	var ps problem.List
	if spec == nil {
		ps.Errorf("spec", nil, "", "missing")
		return nil, ps
	}
	if opts.ID != "" {
		if p := checkID(opts.ID); p != nil {
			ps.Add(p)
		}
	}
	if !filepath.IsAbs(opts.Bundle) {
		ps.Errorf("bundle", opts.Bundle, "give --bundle as an absolute path", "must be an absolute path, got %q", opts.Bundle)
	}
	checkVersion(spec.Version, &ps)
	checkUnsupported(spec, &ps)
	c := &configs.Config{
		OCIVersion:  spec.Version,
		NoPivot:     opts.NoPivot,
		Hostname:    spec.Hostname,
		Domainname:  spec.Domainname,
		Annotations: maps.Clone(spec.Annotations),
	}
	convertRoot(spec.Root, opts.Bundle, c, &ps)
	if spec.Linux == nil {
		// Without linux.namespaces there is no mount namespace, and every
		// rootfs step would then change the host's mounts.
		ps.Errorf("linux", nil, `add "linux": {"namespaces": [{"type": "mount"}]} at least`, "required (at least a mount namespace)")
		convertProcess(spec.Process, c, &ps)
		return c, ps
	}
	convertProcess(spec.Process, c, &ps)
	convertSeccomp(spec.Linux, c, &ps) // after convertProcess: fills c.Process.Seccomp
	convertProcAttrs(spec, c, &ps)     // after convertProcess: fills c.Process.Attrs
	convertNamespaces(spec.Linux, opts, c, &ps)
	checkUTS(spec, c, &ps)
	convertMounts(spec.Mounts, opts.Bundle, c, &ps)
	convertLinuxPaths(spec.Linux, opts, c, &ps)
	convertSysctl(spec.Linux.Sysctl, c, &ps)
	convertDevices(spec.Linux.Devices, c, &ps)
	c.Cgroups.Systemd = opts.SystemdCgroup
	convertCgroup(spec.Linux, c, &ps)
	convertHooks(spec.Hooks, c, &ps)
	checkRootless(opts, c, &ps)
	addNotifySocket(opts, c, &ps)
	return c, ps
}
