package specconv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// pathMax is the kernel's PATH_MAX: a longer path fails every syscall with
// ENAMETOOLONG, so it is refused here with its field's name instead.
const pathMax = 4096

// checkVersion accepts any 1.x.y semver (with optional pre-release or build
// suffix): 1.x is backwards compatible, and bundles from older tools
// routinely say "1.0.2-dev".
func checkVersion(v string, ps *problem.List) {
	core, _, _ := strings.Cut(v, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	bad := len(parts) != 3 || (hasPre && pre == "")
	for _, p := range parts {
		if !isNumber(p) {
			bad = true
		}
	}
	hint := fmt.Sprintf("ocirun implements runtime-spec %s and reads any 1.x.y", specs.Version)
	if bad {
		ps.Errorf("ociVersion", v, hint, "must be a semantic version like %q, got %s", specs.Version, problem.Q(v))
		return
	}
	if parts[0] != "1" {
		ps.Errorf("ociVersion", v, hint, "major version must be 1, got %s", problem.Q(v))
	}
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
func checkUnsupported(spec *specs.Spec, ps *problem.List) {
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
			ps.Errorf(f.name, nil, "remove the field, or run this bundle with runc or crun", "not supported yet")
		}
	}
}

func convertRoot(root *specs.Root, bundle string, c *configs.Config, ps *problem.List) {
	const hint = "root.path must name the container's root filesystem directory, relative to the bundle or absolute"
	if root == nil {
		ps.Errorf("root", nil, hint, "required")
		return
	}
	if root.Path == "" {
		ps.Errorf("root.path", "", hint, "required")
		return
	}
	path := root.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	if len(path) >= pathMax {
		ps.Errorf("root.path", root.Path, hint, "longer than PATH_MAX (%d bytes): %s", len(path), problem.Q(root.Path))
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		ps.Errorf("root.path", root.Path, hint, "%v", err)
		return
	}
	if !fi.IsDir() {
		ps.Errorf("root.path", root.Path, hint, "%s is not a directory", path)
		return
	}
	// Resolve symlinks once, here: the init must not follow a link that
	// could be swapped between validation and pivot_root.
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		ps.Errorf("root.path", root.Path, hint, "%v", err)
		return
	}
	c.Rootfs = filepath.Clean(resolved)
	c.Readonly = root.Readonly
}

// checkAbs returns a problem naming field unless p is an absolute path
// without NUL bytes (the init passes paths to the kernel as C strings) and
// shorter than PATH_MAX.
func checkAbs(field, p string) *problem.Problem {
	if !filepath.IsAbs(p) {
		return &problem.Problem{Path: field, Value: p, Problem: "must be an absolute path, got " + problem.Q(p),
			Hint: "paths in config.json are absolute, as seen inside the container (\"/tmp\", not \"tmp\")"}
	}
	if len(p) >= pathMax {
		return &problem.Problem{Path: field, Value: p, Problem: fmt.Sprintf("longer than PATH_MAX (%d bytes): %s", len(p), problem.Q(p)),
			Hint: fmt.Sprintf("the kernel refuses paths of %d bytes or more", pathMax)}
	}
	return checkNUL(field, p)
}

func checkNUL(field, s string) *problem.Problem {
	if strings.IndexByte(s, 0) >= 0 {
		return &problem.Problem{Path: field, Value: s, Problem: "must not contain a NUL byte, got " + problem.Q(s),
			Hint: "the kernel reads this as a C string, which ends at the first NUL"}
	}
	return nil
}

func convertHooks(h *specs.Hooks, c *configs.Config, ps *problem.List) {
	if h == nil {
		return
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
			if p := checkAbs(field+".path", hook.Path); p != nil {
				ps.Add(p)
				continue
			}
			bad := false
			for j, a := range hook.Args {
				if p := checkNUL(fmt.Sprintf("%s.args[%d]", field, j), a); p != nil {
					ps.Add(p)
					bad = true
				}
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				ps.Errorf(field+".timeout", *hook.Timeout, "a timeout is a number of seconds > 0; leave it out for none", "must be > 0, got %d", *hook.Timeout)
				continue
			}
			if bad {
				continue
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
}

// checkRootless applies the rules that only matter when ocirun runs without
// root: the container needs its own user namespace and every uid=/gid= mount
// option must name an id that is mapped in it.
func checkRootless(opts Options, c *configs.Config, ps *problem.List) {
	if !opts.Rootless {
		return
	}
	ns, ok := c.Namespace(configs.NEWUSER)
	if !ok {
		ps.Errorf("linux.namespaces", nil, "add {\"type\": \"user\"} with uidMappings and gidMappings (`ocirun spec --rootless` writes them)",
			"rootless containers require a user namespace")
		return
	}
	for i, m := range c.Mounts {
		if m.IDMapped {
			// mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user
			// namespace that owns the source's filesystem: the host's.
			ps.Errorf(fmt.Sprintf("mounts[%d].options", i), nil, "drop idmap and the mount's uidMappings/gidMappings, or run as root",
				"an idmapped mount needs root on the host, and ocirun runs rootless")
			continue
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
				ps.Errorf(fmt.Sprintf("mounts[%d].options", i), opt, "use an id inside linux."+key+"Mappings, or drop the option",
					"%s is not mapped in the rootless user namespace", opt)
			}
		}
	}
}

func idMapped(maps []configs.IDMap, id uint32) bool {
	for _, m := range maps {
		if uint64(id) >= uint64(m.ContainerID) && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}
