package specconv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// checkVersion accepts any 1.x.y semver (with optional pre-release or build
// suffix): 1.x is backwards compatible, and bundles from older tools
// routinely say "1.0.2-dev".
func checkVersion(v string) error {
	core, _, _ := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	bad := len(parts) != 3 || (hasPre && pre == "")
	for _, p := range parts {
		if !isNumber(p) {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("ociVersion: must be a semantic version like %q, got %q", specs.Version, v)
	}
	if parts[0] != "1" {
		return fmt.Errorf("ociVersion: major version must be 1, got %q", v)
	}
	return nil
}

// isNumber reports whether s is a semver numeric identifier (no leading zero).
func isNumber(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// checkUnsupported refuses fields ocirun does not implement yet: silently
// ignoring e.g. a seccomp profile would run the container less confined than
// its author asked for.
func checkUnsupported(spec *specs.Spec) error {
	type field struct {
		name string
		set  bool
	}
	fields := []field{
		{"solaris", spec.Solaris != nil},
		{"windows", spec.Windows != nil},
		{"vm", spec.VM != nil},
		{"zos", spec.ZOS != nil},
		{"freebsd", spec.FreeBSD != nil},
	}
	if l := spec.Linux; l != nil {
		fields = append(fields,
			field{"linux.intelRdt", l.IntelRdt != nil},
			field{"linux.netDevices", len(l.NetDevices) > 0},
		)
	}
	for _, f := range fields {
		if f.set {
			return fmt.Errorf("%s: not supported yet", f.name)
		}
	}
	return nil
}

func convertRoot(root *specs.Root, bundle string, c *configs.Config) error {
	if root == nil {
		return errors.New("root: required")
	}
	if root.Path == "" {
		return errors.New("root.path: required")
	}
	path := root.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root.path: %s is not a directory", path)
	}
	// Resolve symlinks once, here: the init must not follow a link that
	// could be swapped between validation and pivot_root.
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	c.Rootfs = filepath.Clean(resolved)
	c.Readonly = root.Readonly
	return nil
}

// checkAbs returns an error naming field unless p is an absolute path
// without NUL bytes (the init passes paths to the kernel as C strings).
func checkAbs(field, p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%s: must be an absolute path, got %q", field, p)
	}
	return checkNUL(field, p)
}

func checkNUL(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s: must not contain a NUL byte, got %q", field, s)
	}
	return nil
}

func convertHooks(h *specs.Hooks, c *configs.Config) error {
	if h == nil {
		return nil
	}
	lists := []struct {
		name string
		in   []specs.Hook
		out  *[]configs.Hook
	}{
		{"prestart", h.Prestart, &c.Hooks.Prestart}, //nolint:staticcheck // deprecated but still honoured, as runc does
		{"createRuntime", h.CreateRuntime, &c.Hooks.CreateRuntime},
		{"createContainer", h.CreateContainer, &c.Hooks.CreateContainer},
		{"startContainer", h.StartContainer, &c.Hooks.StartContainer},
		{"poststart", h.Poststart, &c.Hooks.Poststart},
		{"poststop", h.Poststop, &c.Hooks.Poststop},
	}
	for _, l := range lists {
		for i, hook := range l.in {
			field := fmt.Sprintf("hooks.%s[%d]", l.name, i)
			if err := checkAbs(field+".path", hook.Path); err != nil {
				return err
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("%s.timeout: must be > 0, got %d", field, *hook.Timeout)
			}
			out := configs.Hook{
				Path: hook.Path,
				Args: append([]string(nil), hook.Args...),
				Env:  append([]string(nil), hook.Env...),
			}
			if hook.Timeout != nil {
				t := *hook.Timeout
				out.Timeout = &t
			}
			*l.out = append(*l.out, out)
		}
	}
	return nil
}

// checkRootless applies the rules that only matter when ocirun runs without
// root: the container needs its own user namespace and every uid=/gid= mount
// option must name an id that is mapped in it.
func checkRootless(opts Options, c *configs.Config) error {
	if !opts.Rootless {
		return nil
	}
	ns, ok := c.Namespace(configs.NEWUSER)
	if !ok {
		return errors.New("linux.namespaces: rootless containers require a user namespace")
	}
	for i, m := range c.Mounts {
		if m.IDMapped {
			// mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user
			// namespace that owns the source's filesystem: the host's.
			return fmt.Errorf("mounts[%d]: an idmapped mount needs root on the host, and ocirun runs rootless", i)
		}
		for opt := range strings.SplitSeq(m.Data, ",") {
			key, val, ok := strings.Cut(opt, "=")
			if !ok || (key != "uid" && key != "gid") {
				continue
			}
			id, err := strconv.ParseUint(val, 10, 32)
			if err != nil {
				continue // not ours to judge: the filesystem will
			}
			idmap := c.UIDMappings
			if key == "gid" {
				idmap = c.GIDMappings
			}
			if ns.Path == "" && !idMapped(idmap, uint32(id)) {
				return fmt.Errorf("mounts[%d].options: %s is not mapped in the rootless user namespace", i, opt)
			}
		}
	}
	return nil
}

func idMapped(maps []configs.IDMap, id uint32) bool {
	for _, m := range maps {
		if uint64(id) >= uint64(m.ContainerID) && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}
