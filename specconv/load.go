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

// ToConfig validates spec and returns the normalized config. Errors name the
// JSON path of the offending field and its value.
func ToConfig(spec *specs.Spec, opts Options) (*configs.Config, error) {
	if spec == nil {
		return nil, errors.New("spec: missing")
	}
	if opts.ID != "" {
		if err := ValidateID(opts.ID); err != nil {
			return nil, err
		}
	}
	if !filepath.IsAbs(opts.Bundle) {
		return nil, fmt.Errorf("bundle: must be an absolute path, got %q", opts.Bundle)
	}
	if err := checkVersion(spec.Version); err != nil {
		return nil, err
	}
	if err := checkUnsupported(spec); err != nil {
		return nil, err
	}
	c := &configs.Config{
		OCIVersion:  spec.Version,
		NoPivot:     opts.NoPivot,
		Hostname:    spec.Hostname,
		Domainname:  spec.Domainname,
		Annotations: maps.Clone(spec.Annotations),
	}
	if err := convertRoot(spec.Root, opts.Bundle, c); err != nil {
		return nil, err
	}
	if spec.Linux == nil {
		// Without linux.namespaces there is no mount namespace, and every
		// rootfs step would then change the host's mounts.
		return nil, errors.New("linux: required (at least a mount namespace)")
	}
	steps := []func() error{
		func() error { return convertProcess(spec.Process, c) },
		func() error { return convertSeccomp(spec.Linux, c) }, // after convertProcess: fills c.Process.Seccomp
		func() error { return convertProcAttrs(spec, c) },     // after convertProcess: fills c.Process.Attrs
		func() error { return convertNamespaces(spec.Linux, opts, c) },
		func() error { return checkUTS(spec, c) },
		func() error { return convertMounts(spec.Mounts, opts.Bundle, c) },
		func() error { return convertLinuxPaths(spec.Linux, opts, c) },
		func() error { return convertSysctl(spec.Linux.Sysctl, c) },
		func() error { return convertDevices(spec.Linux.Devices, c) },
		func() error { return convertCgroup(spec.Linux, c) },
		func() error { c.Cgroups.Systemd = opts.SystemdCgroup; return nil },
		func() error { return convertHooks(spec.Hooks, c) },
		func() error { return checkRootless(opts, c) },
		func() error { return addNotifySocket(opts, c) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return c, nil
}
