package specconv

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// MountOptions is a mount's options list split the way mount(2),
// mount_setattr(2) and the runtime want them.
type MountOptions struct {
	Flags        int    // MS_* to set
	ClearedFlags int    // MS_* explicitly negated ("rw", "dev", ...)
	Data         string // everything unknown, comma-joined, for the filesystem
	Propagation  []int  // MS_PRIVATE|MS_REC ..., applied in order after mounting
	RecAttrSet   uint64 // MOUNT_ATTR_* applied recursively
	RecAttrClr   uint64
	Extensions   int // configs.EXT_*
	// IDMap ("idmap", "ridmap"): an idmapped mount; IDMapRecursive
	// ("ridmap") for its submounts too.
	IDMap, IDMapRecursive bool
}

type flagOpt struct {
	clear bool
	flag  int
}

// The option tables of this package are built on first use: as package-level
// maps, every ocirun command built them at start-up.
var mountFlags = sync.OnceValue(func() map[string]flagOpt {
	return map[string]flagOpt{
		"ro":            {false, unix.MS_RDONLY},
		"rw":            {true, unix.MS_RDONLY},
		"nosuid":        {false, unix.MS_NOSUID},
		"suid":          {true, unix.MS_NOSUID},
		"nodev":         {false, unix.MS_NODEV},
		"dev":           {true, unix.MS_NODEV},
		"noexec":        {false, unix.MS_NOEXEC},
		"exec":          {true, unix.MS_NOEXEC},
		"sync":          {false, unix.MS_SYNCHRONOUS},
		"async":         {true, unix.MS_SYNCHRONOUS},
		"dirsync":       {false, unix.MS_DIRSYNC},
		"remount":       {false, unix.MS_REMOUNT},
		"mand":          {false, unix.MS_MANDLOCK},
		"nomand":        {true, unix.MS_MANDLOCK},
		"noatime":       {false, unix.MS_NOATIME},
		"atime":         {true, unix.MS_NOATIME},
		"nodiratime":    {false, unix.MS_NODIRATIME},
		"diratime":      {true, unix.MS_NODIRATIME},
		"relatime":      {false, unix.MS_RELATIME},
		"norelatime":    {true, unix.MS_RELATIME},
		"strictatime":   {false, unix.MS_STRICTATIME},
		"nostrictatime": {true, unix.MS_STRICTATIME},
		"lazytime":      {false, unix.MS_LAZYTIME},
		"nolazytime":    {true, unix.MS_LAZYTIME},
		"iversion":      {false, unix.MS_I_VERSION},
		"noiversion":    {true, unix.MS_I_VERSION},
		"silent":        {false, unix.MS_SILENT},
		"loud":          {true, unix.MS_SILENT},
		"bind":          {false, unix.MS_BIND},
		"rbind":         {false, unix.MS_BIND | unix.MS_REC},
		"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
		"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	}
})

var propagationFlags = sync.OnceValue(func() map[string]int {
	return map[string]int{
		"private":     unix.MS_PRIVATE,
		"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
		"shared":      unix.MS_SHARED,
		"rshared":     unix.MS_SHARED | unix.MS_REC,
		"slave":       unix.MS_SLAVE,
		"rslave":      unix.MS_SLAVE | unix.MS_REC,
		"unbindable":  unix.MS_UNBINDABLE,
		"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	}
})

type attrOpt struct {
	clear bool
	attr  uint64
}

// recAttrs are the recursive mount_setattr(2) options. The atime mode is an
// enum the kernel replaces as a whole (clearing one of its bits alone is
// EINVAL), so each negated atime option selects a mode: the kernel's default
// relatime, or strictatime for "no relatime".
var recAttrs = sync.OnceValue(func() map[string]attrOpt {
	return map[string]attrOpt{
		"rro":            {false, unix.MOUNT_ATTR_RDONLY},
		"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
		"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
		"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
		"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
		"rdev":           {true, unix.MOUNT_ATTR_NODEV},
		"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
		"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
		"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
		"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
		"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
		"rnorelatime":    {false, unix.MOUNT_ATTR_STRICTATIME},
		"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
		"ratime":         {false, unix.MOUNT_ATTR_RELATIME},
		"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
		"rnostrictatime": {false, unix.MOUNT_ATTR_RELATIME},
		"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
		"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
	}
})

var extensions = sync.OnceValue(func() map[string]int {
	return map[string]int{
		"tmpcopyup": configs.EXT_COPYUP,
	}
})

// idmapOpts are runtime-spec 1.2's idmapped mount options: the mount gets
// the mount's uidMappings/gidMappings, or the container's own; "ridmap"
// also maps its submounts (AT_RECURSIVE).
var idmapOpts = map[string]bool{"idmap": false, "ridmap": true}

// KnownMountOptions lists the options ParseMountOptions interprets itself
// (everything else is passed to the filesystem), sorted.
func KnownMountOptions() []string {
	out := []string{"defaults"}
	for k := range mountFlags() {
		out = append(out, k)
	}
	for k := range propagationFlags() {
		out = append(out, k)
	}
	for k := range recAttrs() {
		out = append(out, k)
	}
	for k := range extensions() {
		out = append(out, k)
	}
	for k := range idmapOpts {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ParseMountOptions splits fstab-style options. Later options win over
// earlier ones ("ro,rw" is read-write). Unknown options are filesystem data,
// kept in order. Only options ocirun cannot honour yet are errors.
func ParseMountOptions(opts []string) (MountOptions, error) {
	var ps problem.List
	m := parseMountOptions("options", opts, &ps)
	if err := ps.Err(); err != nil {
		return MountOptions{}, err
	}
	return m, nil
}

// parseMountOptions is ParseMountOptions reporting to ps, with field the
// JSON path of the options list.
func parseMountOptions(field string, opts []string, ps *problem.List) MountOptions {
	var (
		m    MountOptions
		data []string
	)
	for i, o := range opts {
		if f, ok := mountFlags()[o]; ok {
			if f.clear {
				m.Flags &^= f.flag
				m.ClearedFlags |= f.flag
			} else {
				m.Flags |= f.flag
				m.ClearedFlags &^= f.flag
			}
			continue
		}
		if p, ok := propagationFlags()[o]; ok {
			m.Propagation = append(m.Propagation, p)
			continue
		}
		if a, ok := recAttrs()[o]; ok {
			if a.clear {
				m.RecAttrClr |= a.attr
				m.RecAttrSet &^= a.attr
				continue
			}
			// mount_setattr(2): access-time modes are an enum, not bits; one
			// in attr_set only takes effect with MOUNT_ATTR__ATIME in attr_clr,
			// and the last one given wins (MOUNT_ATTR_RELATIME is 0).
			if a.attr&unix.MOUNT_ATTR__ATIME == a.attr {
				m.RecAttrSet = m.RecAttrSet&^unix.MOUNT_ATTR__ATIME | a.attr
				m.RecAttrClr |= unix.MOUNT_ATTR__ATIME
				continue
			}
			m.RecAttrSet |= a.attr
			m.RecAttrClr &^= a.attr
			continue
		}
		if e, ok := extensions()[o]; ok {
			m.Extensions |= e
			continue
		}
		if rec, ok := idmapOpts[o]; ok {
			m.IDMap = true
			m.IDMapRecursive = m.IDMapRecursive || rec
			continue
		}
		opt := fmt.Sprintf("%s[%d]", field, i)
		// "defaults" only means "no options": passed on, filesystems like
		// tmpfs would reject it.
		if o == "defaults" || o == "" {
			continue
		}
		if p := checkNUL(opt, o); p != nil {
			ps.Add(p)
			continue
		}
		data = append(data, o)
	}
	m.Data = strings.Join(data, ",")
	return m
}

func convertMounts(in []specs.Mount, bundle string, c *configs.Config, ps *problem.List) {
	for i, sm := range in {
		field := fmt.Sprintf("mounts[%d]", i)
		n := len(*ps)
		if p := checkAbs(field+".destination", sm.Destination); p != nil {
			ps.Add(p)
		} else if filepath.Clean(sm.Destination) == "/" {
			// Stacked over the root, the mount would become the container's
			// "/" at pivot_root and hide every mount made below it.
			ps.Errorf(field+".destination", sm.Destination, "mount below \"/\"; the root filesystem is root.path",
				"%s is on the top of rootfs: it would hide every other mount", problem.Q(sm.Destination))
		}
		ps.Add(checkNUL(field+".source", sm.Source))
		ps.Add(checkNUL(field+".type", sm.Type))
		opts := parseMountOptions(field+".options", sm.Options, ps)
		uids := convertIDMap(field+".uidMappings", sm.UIDMappings, ps)
		gids := convertIDMap(field+".gidMappings", sm.GIDMappings, ps)
		m := configs.Mount{
			Source:           sm.Source,
			Destination:      filepath.Clean(sm.Destination),
			Device:           sm.Type,
			Flags:            opts.Flags,
			ClearedFlags:     opts.ClearedFlags,
			Data:             opts.Data,
			PropagationFlags: opts.Propagation,
			RecAttrSet:       opts.RecAttrSet,
			RecAttrClr:       opts.RecAttrClr,
			Extensions:       opts.Extensions,
		}
		// A bind mount's type is meaningless to mount(2); "bind" as a type
		// without the option is common (crun accepts it), so it means bind.
		if sm.Type == "bind" {
			m.Flags |= unix.MS_BIND
		}
		if m.Flags&unix.MS_BIND != 0 {
			m.Device = "bind"
			if m.Source == "" {
				ps.Errorf(field+".source", "", "a bind mount's source is the host path to bind, absolute or relative to the bundle", "required for a bind mount")
			} else if !filepath.IsAbs(m.Source) {
				m.Source = filepath.Join(bundle, m.Source)
			}
		} else if m.Device == "" {
			ps.Errorf(field+".type", "", `give the filesystem type ("tmpfs", "proc"...), or "bind" with options ["rbind"] for a bind mount`, "required unless the mount is a bind mount")
		}
		idmapMount(field, &m, opts, uids, gids, ps)
		if m.IDMapped && len(m.UIDMappings) == 0 && !c.HasNamespace(configs.NEWUSER) {
			ps.Errorf(field+".options", sm.Options, `add {"type": "user"} to linux.namespaces, or give the mount uidMappings and gidMappings`,
				"idmap without uidMappings and gidMappings takes the container's user namespace's, and linux.namespaces has no user namespace")
		}
		if len(*ps) == n {
			c.Mounts = append(c.Mounts, m)
		}
	}
}

// convertLinuxPaths handles the rootfs-related linux.* fields.
func convertLinuxPaths(l *specs.Linux, opts Options, c *configs.Config, ps *problem.List) {
	if p := l.RootfsPropagation; p != "" {
		flag, ok := propagationFlags()[p] // the same words as a mount's options
		switch {
		case !ok:
			ps.Errorf("linux.rootfsPropagation", p, "want one of [r]private, [r]slave, [r]shared, [r]unbindable", "unknown mode %s, want one of [r]private, [r]slave, [r]shared, [r]unbindable", problem.Q(p))
		case opts.NoPivot && flag&unix.MS_PRIVATE != 0:
			// Without pivot_root the host's mounts stay reachable under the
			// container's root; a private root would never see the host unmount
			// them and would keep them busy.
			ps.Errorf("linux.rootfsPropagation", p, "use [r]slave with --no-pivot, or drop --no-pivot", "%q is not safe without pivot_root", p)
		default:
			c.RootPropagation = flag
		}
	}
	for i, p := range l.MaskedPaths {
		ps.Add(checkAbs(fmt.Sprintf("linux.maskedPaths[%d]", i), p))
	}
	for i, p := range l.ReadonlyPaths {
		ps.Add(checkAbs(fmt.Sprintf("linux.readonlyPaths[%d]", i), p))
	}
	c.MaskedPaths = slices.Clone(l.MaskedPaths)
	c.ReadonlyPaths = slices.Clone(l.ReadonlyPaths)
	c.MountLabel = l.MountLabel
}

// idmapMount sets up an idmapped mount: mappings given (uidMappings and
// gidMappings, both, as the spec requires) make one even without "idmap",
// as runc does, so that they are never silently ignored. Only a bind mount
// can be idmapped here: the mapping is set on a detached clone of the
// source (mount_setattr(MOUNT_ATTR_IDMAP)), which only the host's root may
// make. Without mappings the container's own user namespace's are used.
func idmapMount(field string, m *configs.Mount, opts MountOptions, uids, gids []configs.IDMap, ps *problem.List) {
	const hint = "an idmapped mount takes both uidMappings and gidMappings, or neither (then the container's user namespace's)"
	if len(uids) > 0 && len(gids) == 0 {
		ps.Errorf(field+".gidMappings", nil, hint, "required with uidMappings")
		return
	}
	if len(gids) > 0 && len(uids) == 0 {
		ps.Errorf(field+".uidMappings", nil, hint, "required with gidMappings")
		return
	}
	if !opts.IDMap && len(uids) == 0 {
		return
	}
	if !m.IsBind() {
		ps.Errorf(field+".options", m.Device, `idmap a bind mount ("rbind" or "bind" in options)`, "an idmapped mount must be a bind mount, %q is not", m.Device)
		return
	}
	m.IDMapped, m.IDMapRecursive = true, opts.IDMapRecursive
	m.UIDMappings, m.GIDMappings = uids, gids
}
