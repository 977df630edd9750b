package specconv

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

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

func convertNamespaces(l *specs.Linux, opts Options, c *configs.Config) error {
	for i, ns := range l.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		t, ok := namespaceTypes()[ns.Type]
		if !ok {
			return fmt.Errorf("%s.type: unknown namespace %q", field, ns.Type)
		}
		if c.HasNamespace(t) {
			return fmt.Errorf("%s: duplicate %q namespace", field, ns.Type)
		}
		if ns.Path != "" {
			if err := checkAbs(field+".path", ns.Path); err != nil {
				return err
			}
		}
		c.Namespaces = append(c.Namespaces, configs.Namespace{Type: t, Path: ns.Path})
	}
	if !c.HasNamespace(configs.NEWNS) {
		return errors.New("linux.namespaces: a mount namespace is required")
	}
	if err := convertIDMaps(l, c); err != nil {
		return err
	}
	return convertTimeOffsets(l.TimeOffsets, c)
}

func convertIDMaps(l *specs.Linux, c *configs.Config) error {
	userns, hasUserns := c.Namespace(configs.NEWUSER)
	if !hasUserns {
		if len(l.UIDMappings) > 0 {
			return errors.New("linux.uidMappings: set, but linux.namespaces has no user namespace")
		}
		if len(l.GIDMappings) > 0 {
			return errors.New("linux.gidMappings: set, but linux.namespaces has no user namespace")
		}
		return nil
	}
	// Joining a user namespace by path: its maps are already written, so
	// mappings are optional. containerd and CRI-O pass both; keep them.
	if userns.Path == "" {
		if len(l.UIDMappings) == 0 {
			return errors.New("linux.uidMappings: user namespaces enabled, but no uid/gid mappings found")
		}
		if len(l.GIDMappings) == 0 {
			return errors.New("linux.gidMappings: user namespaces enabled, but no uid/gid mappings found")
		}
	}
	var err error
	if c.UIDMappings, err = convertIDMap("linux.uidMappings", l.UIDMappings); err != nil {
		return err
	}
	c.GIDMappings, err = convertIDMap("linux.gidMappings", l.GIDMappings)
	return err
}

func convertIDMap(field string, in []specs.LinuxIDMapping) ([]configs.IDMap, error) {
	var out []configs.IDMap
	for i, m := range in {
		if m.Size == 0 {
			return nil, fmt.Errorf("%s[%d].size: must be > 0", field, i)
		}
		// The kernel rejects ranges that wrap around the 32-bit id space.
		if uint64(m.ContainerID)+uint64(m.Size) > 1<<32 || uint64(m.HostID)+uint64(m.Size) > 1<<32 {
			return nil, fmt.Errorf("%s[%d]: range %d+%d overflows 32-bit ids", field, i, max(m.ContainerID, m.HostID), m.Size)
		}
		out = append(out, configs.IDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out, nil
}

func convertTimeOffsets(in map[string]specs.LinuxTimeOffset, c *configs.Config) error {
	if len(in) == 0 {
		return nil
	}
	// timens_offsets can only be written before the first process enters the
	// namespace, so a joined time namespace cannot take offsets.
	if ns, ok := c.Namespace(configs.NEWTIME); !ok || ns.Path != "" {
		return errors.New("linux.timeOffsets: requires a new time namespace in linux.namespaces")
	}
	c.TimeOffsets = make(map[string]configs.TimeOffset, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if k != "monotonic" && k != "boottime" {
			return fmt.Errorf("linux.timeOffsets: unknown clock %q, want \"monotonic\" or \"boottime\"", k)
		}
		v := in[k]
		if v.Nanosecs >= 1e9 {
			return fmt.Errorf("linux.timeOffsets.%s.nanosecs: must be < 1000000000, got %d", k, v.Nanosecs)
		}
		c.TimeOffsets[k] = configs.TimeOffset{Secs: v.Secs, Nanosecs: v.Nanosecs}
	}
	return nil
}

// checkUTS refuses a hostname or domainname that would be set on the host.
func checkUTS(spec *specs.Spec, c *configs.Config) error {
	if c.HasNamespace(configs.NEWUTS) {
		return nil
	}
	if spec.Hostname != "" {
		return fmt.Errorf("hostname: %q requires a uts namespace in linux.namespaces", spec.Hostname)
	}
	if spec.Domainname != "" {
		return fmt.Errorf("domainname: %q requires a uts namespace in linux.namespaces", spec.Domainname)
	}
	return nil
}

// ipcSysctls are the sysctls outside fs.mqueue.* that the ipc namespace owns.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// convertSysctl accepts only sysctls that live in one of the container's
// namespaces: /proc/sys is shared with the host for everything else.
func convertSysctl(in map[string]string, c *configs.Config) error {
	for _, key := range slices.Sorted(maps.Keys(in)) {
		k := sysctlDots(key)
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if !c.HasNamespace(configs.NEWIPC) {
				return fmt.Errorf("linux.sysctl: %q requires an ipc namespace", key)
			}
		case strings.HasPrefix(k, "net."):
			// A joined network namespace is accepted: checking that it is not
			// the host's needs a stat, which belongs to the caller.
			if !c.HasNamespace(configs.NEWNET) {
				return fmt.Errorf("linux.sysctl: %q requires a network namespace", key)
			}
		case k == "kernel.hostname" || k == "kernel.domainname":
			if !c.HasNamespace(configs.NEWUTS) {
				return fmt.Errorf("linux.sysctl: %q requires a uts namespace", key)
			}
			if k == "kernel.hostname" && c.Hostname != "" {
				return fmt.Errorf("linux.sysctl: %q conflicts with hostname %q", key, c.Hostname)
			}
		default:
			return fmt.Errorf("linux.sysctl: %q is not in a separate kernel namespace", key)
		}
		if err := checkNUL(fmt.Sprintf("linux.sysctl[%q]", key), in[key]); err != nil {
			return err
		}
	}
	c.Sysctl = maps.Clone(in)
	return nil
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
