package bundle

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CgroupDirs returns, for every cgroup hierarchy mounted in this mount namespace
// (each v1 controller mount and the v2 mount, hybrid or unified), the host
// directory where a relative cgroups path rel lands: under this process's own
// cgroup in that hierarchy.
func CgroupDirs(rel string) ([]string, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range mounts {
		var path string
		var ok bool
		if m.v2 {
			path, ok = own[""]
		} else {
			for _, c := range m.controllers {
				if path, ok = own[c]; ok {
					break
				}
			}
		}
		if !ok {
			continue
		}
		// The mount may show a subtree (root field) of the hierarchy, e.g. inside a cgroupns.
		inMount, err := filepath.Rel(m.root, path)
		if err != nil || strings.HasPrefix(inMount, "..") {
			continue
		}
		dirs = append(dirs, filepath.Join(m.mountpoint, inMount, rel))
	}
	return dirs, nil
}

// ownCgroups maps each v1 controller (and "name=systemd" style names) to this
// process's path in it; "" is the v2 path.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	own := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup: bad line %q", sc.Text())
		}
		if parts[1] == "" {
			own[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	return own, sc.Err()
}

type cgroupMount struct {
	mountpoint  string
	root        string
	v2          bool
	controllers []string
}

func cgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		m := cgroupMount{root: a[3], mountpoint: a[4]}
		switch b[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			for _, o := range strings.Split(b[2], ",") {
				if o != "rw" && o != "ro" {
					m.controllers = append(m.controllers, o)
				}
			}
		default:
			continue
		}
		// The same hierarchy can be mounted twice; one check is enough.
		key := b[0] + ":" + strings.Join(m.controllers, ",")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, m)
	}
	return out, sc.Err()
}
