package specconv

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

var namespaceTypes = sync.OnceValue(func() map[specs.LinuxNamespaceType]string {
	return map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace:     configs.NEWPID,
		specs.NetworkNamespace: configs.NEWNET,
		specs.IPCNamespace:     configs.NEWIPC,
		specs.UTSNamespace:     configs.NEWUTS,
		specs.MountNamespace:   configs.NEWNS,
		specs.CgroupNamespace:  configs.NEWCGROUP,
		specs.UserNamespace:    configs.NEWUSER,
		specs.TimeNamespace:    configs.NEWTIME,
	}
})

// KnownNamespaces lists the namespace types ToConfig accepts, sorted.
func KnownNamespaces() []string {
	var out []string
	for t := range namespaceTypes() {
		out = append(out, string(t))
	}
	slices.Sort(out)
	return out
}

func convertNamespaces(l *specs.Linux, opts Options, c *configs.Config, ps *problem.List) {
	const hint = "one entry per type, each new or joined by an absolute path (/proc/PID/ns/TYPE, a bind-mounted nsfs file)"
	for i, ns := range l.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		t, ok := namespaceTypes()[ns.Type]
		if !ok {
			ps.Errorf(field+".type", string(ns.Type), "want one of "+strings.Join(KnownNamespaces(), ", "), "unknown namespace %s", problem.Q(string(ns.Type)))
			continue
		}
		if c.HasNamespace(t) {
			ps.Errorf(field, string(ns.Type), hint, "duplicate %q namespace", ns.Type)
			continue
		}
		if ns.Path != "" {
			if p := checkAbs(field+".path", ns.Path); p != nil {
				ps.Add(p)
				continue
			}
		}
		c.Namespaces = append(c.Namespaces, configs.Namespace{Type: t, Path: ns.Path})
	}
	if !c.HasNamespace(configs.NEWNS) && !slices.ContainsFunc(l.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.MountNamespace }) {
		ps.Errorf("linux.namespaces", nil, `add {"type": "mount"}: `+MountNamespaceReason, "a mount namespace is required")
	}
	convertIDMaps(l, c, ps)
	convertTimeOffsets(l.TimeOffsets, c, ps)
}

// MountNamespaceReason is why ocirun refuses a config without a mount
// namespace. The runtime-spec lets the container inherit the runtime's
// (config-linux.md, namespaces), and runc then skips the rootfs setup
// altogether; ocirun sets up the rootfs, /dev, the masked and read-only
// paths through mounts, which in the runtime's namespace would change the
// host's. `features` reports it (io.github.ocirun.linux.namespaces.mount).
const MountNamespaceReason = "without it every mount would change the host's"

func convertIDMaps(l *specs.Linux, c *configs.Config, ps *problem.List) {
	const hint = "a new user namespace needs both uidMappings and gidMappings; a joined one (by path) may give them or not"
	userns, hasUserns := c.Namespace(configs.NEWUSER)
	if !hasUserns {
		if len(l.UIDMappings) > 0 {
			ps.Errorf("linux.uidMappings", nil, `add {"type": "user"} to linux.namespaces, or drop the mappings`, "set, but linux.namespaces has no user namespace")
		}
		if len(l.GIDMappings) > 0 {
			ps.Errorf("linux.gidMappings", nil, `add {"type": "user"} to linux.namespaces, or drop the mappings`, "set, but linux.namespaces has no user namespace")
		}
		return
	}
	// Joining a user namespace by path: its maps are already written, so
	// mappings are optional. containerd and CRI-O pass both; keep them.
	if userns.Path == "" {
		if len(l.UIDMappings) == 0 {
			ps.Errorf("linux.uidMappings", nil, hint, "user namespaces enabled, but no uid/gid mappings found")
		}
		if len(l.GIDMappings) == 0 {
			ps.Errorf("linux.gidMappings", nil, hint, "user namespaces enabled, but no uid/gid mappings found")
		}
	}
	c.UIDMappings = convertIDMap("linux.uidMappings", l.UIDMappings, ps)
	c.GIDMappings = convertIDMap("linux.gidMappings", l.GIDMappings, ps)
}

func convertIDMap(field string, in []specs.LinuxIDMapping, ps *problem.List) []configs.IDMap {
	var out []configs.IDMap
	for i, m := range in {
		if m.Size == 0 {
			ps.Errorf(fmt.Sprintf("%s[%d].size", field, i), m.Size, "size is the number of ids mapped, at least 1", "must be > 0")
			continue
		}
		// The kernel rejects ranges that wrap around the 32-bit id space.
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			ps.Errorf(fmt.Sprintf("%s[%d]", field, i), m, "containerID+size and hostID+size must stay at most 4294967296",
				"range %d+%d overflows 32-bit ids", max(m.ContainerID, m.HostID), m.Size)
			continue
		}
		out = append(out, configs.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out
}

func convertTimeOffsets(in map[string]specs.LinuxTimeOffset, c *configs.Config, ps *problem.List) {
	if len(in) == 0 {
		return
	}
	// timens_offsets can only be written before the first process enters the
	// namespace, so a joined time namespace cannot take offsets.
	if ns, ok := c.Namespace(configs.NEWTIME); !ok || ns.Path != "" {
		ps.Errorf("linux.timeOffsets", nil, `add {"type": "time"} without a path to linux.namespaces, or drop the offsets`, "requires a new time namespace in linux.namespaces")
		return
	}
	c.TimeOffsets = make(map[string]configs.TimeOffset, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if k != "monotonic" && k != "boottime" {
			ps.Errorf("linux.timeOffsets", k, `the clocks a time namespace shifts are "monotonic" and "boottime"`, "unknown clock %s, want \"monotonic\" or \"boottime\"", problem.Q(k))
			continue
		}
		v := in[k]
		if v.Nanosecs >= 1e9 {
			ps.Errorf("linux.timeOffsets."+k+".nanosecs", v.Nanosecs, "carry whole seconds into secs", "must be < 1000000000, got %d", v.Nanosecs)
			continue
		}
		c.TimeOffsets[k] = configs.TimeOffset{Secs: v.Secs, Nanosecs: v.Nanosecs}
	}
}

// hostNameMax is the kernel's HOST_NAME_MAX (and __NEW_UTS_LEN): sethostname
// and setdomainname refuse longer names with EINVAL.
const hostNameMax = 64

// checkUTS refuses a hostname or domainname that would be set on the host,
// or that the kernel would refuse.
func checkUTS(spec *specs.Spec, c *configs.Config, ps *problem.List) {
	for _, f := range []struct{ name, value string }{{"hostname", spec.Hostname}, {"domainname", spec.Domainname}} {
		if len(f.value) > hostNameMax {
			ps.Errorf(f.name, f.value, fmt.Sprintf("the kernel takes at most %d bytes", hostNameMax), "longer than %d bytes (%d): %s", hostNameMax, len(f.value), problem.Q(f.value))
		} else if p := checkNUL(f.name, f.value); p != nil {
			ps.Add(p)
		}
	}
	if c.HasNamespace(configs.NEWUTS) {
		return
	}
	const hint = `add {"type": "uts"} to linux.namespaces, or leave the name out`
	if spec.Hostname != "" {
		ps.Errorf("hostname", spec.Hostname, hint, "%s requires a uts namespace in linux.namespaces", problem.Q(spec.Hostname))
	}
	if spec.Domainname != "" {
		ps.Errorf("domainname", spec.Domainname, hint, "%s requires a uts namespace in linux.namespaces", problem.Q(spec.Domainname))
	}
}

// ipcSysctls are the sysctls outside fs.mqueue.* that the ipc namespace owns.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// convertSysctl accepts only sysctls that live in one of the container's
// namespaces: /proc/sys is shared with the host for everything else.
func convertSysctl(in map[string]string, c *configs.Config, ps *problem.List) {
	const field = "linux.sysctl"
	ok := true
	for _, key := range slices.Sorted(maps.Keys(in)) {
		k := sysctlDots(key)
		bad := func(hint, format string, args ...any) {
			ps.Errorf(field, key, hint, format, args...)
			ok = false
		}
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if !c.HasNamespace(configs.NEWIPC) {
				bad(`add {"type": "ipc"} to linux.namespaces`, "%s requires an ipc namespace", problem.Q(key))
				continue
			}
		case strings.HasPrefix(k, "net."):
			// A joined network namespace is accepted: checking that it is not
			// the host's needs a stat, which belongs to the caller.
			if !c.HasNamespace(configs.NEWNET) {
				bad(`add {"type": "network"} to linux.namespaces`, "%s requires a network namespace", problem.Q(key))
				continue
			}
		case k == "kernel.hostname" || k == "kernel.domainname":
			if !c.HasNamespace(configs.NEWUTS) {
				bad(`add {"type": "uts"} to linux.namespaces`, "%s requires a uts namespace", problem.Q(key))
				continue
			}
			if k == "kernel.hostname" && c.Hostname != "" {
				bad("set the name in hostname only", "%s conflicts with hostname %s", problem.Q(key), problem.Q(c.Hostname))
				continue
			}
		default:
			bad("only sysctls of the ipc, network and uts namespaces (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*, kernel.hostname, kernel.domainname) can be set per container",
				"%s is not in a separate kernel namespace", problem.Q(key))
			continue
		}
		if p := checkNUL(fmt.Sprintf("linux.sysctl[%q]", key), in[key]); p != nil {
			ps.Add(p)
			ok = false
		}
	}
	if ok {
		c.Sysctl = maps.Clone(in)
	}
}

// sysctlDots converts the slash form sysctl(8) also accepts
// ("net/ipv4/conf/eth0.100/rp_filter") to the dotted form, where a dot in a
// component becomes a slash.
func sysctlDots(k string) string {
	i := strings.IndexAny(k, "./")
	if i < 0 || k[i] == '.' {
		return k
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, k)
}
