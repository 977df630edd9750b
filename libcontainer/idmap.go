package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// writeIDMaps writes the user namespace maps of pid from outside it, as only
// a process with privileges over the parent namespace can. Without them
// (rootless) the kernel lets a user map its own uid and gid alone; anything
// more goes through the setuid helpers newuidmap and newgidmap (Debian's
// uidmap package), which check the ranges /etc/subuid and /etc/subgid grant.
func writeIDMaps(pid int, cfg *configs.Config) error {
	if os.Geteuid() == 0 {
		if err := writeIDMap(pid, "uid_map", cfg.UIDMappings); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
		if err := writeIDMap(pid, "gid_map", cfg.GIDMappings); err != nil {
			return fmt.Errorf("linux.gidMappings: %w", err)
		}
		return nil
	}
	if ownID(cfg.UIDMappings, os.Geteuid()) {
		if err := writeIDMap(pid, "uid_map", cfg.UIDMappings); err != nil {
			return fmt.Errorf("linux.uidMappings: %w", err)
		}
	} else if err := idmapHelper("newuidmap", "/etc/subuid", pid, cfg.UIDMappings); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if ownID(cfg.GIDMappings, os.Getegid()) {
		// An unprivileged gid_map is only accepted once setgroups is denied:
		// otherwise the process could drop a group that denies it access.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/setgroups", pid), []byte("deny"), 0); err != nil {
			return fmt.Errorf("linux.gidMappings: write setgroups: %w", err)
		}
		if err := writeIDMap(pid, "gid_map", cfg.GIDMappings); err != nil {
			return fmt.Errorf("linux.gidMappings: %w", err)
		}
	} else if err := idmapHelper("newgidmap", "/etc/subgid", pid, cfg.GIDMappings); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	return nil
}

// ownID: maps is the one line an unprivileged process may write itself, a
// single id mapped to its own.
func ownID(maps []configs.IDMap, id int) bool {
	return len(maps) == 1 && maps[0].Size == 1 && int64(maps[0].HostID) == int64(id)
}

func writeIDMap(pid int, file string, maps []configs.IDMap) error {
	var data []byte
	for _, m := range maps {
		data = fmt.Appendf(data, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	path := fmt.Sprintf("/proc/%d/%s", pid, file)
	if err := os.WriteFile(path, data, 0); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// idmapHelper runs newuidmap or newgidmap PID ID HOSTID SIZE... and words
// its failure for the user: which package, which file.
func idmapHelper(helper, subFile string, pid int, maps []configs.IDMap) error {
	path, err := exec.LookPath(helper)
	if err != nil {
		return fmt.Errorf("mapping more than the user's own id needs %s (Debian package uidmap) and a range in %s: %w",
			helper, subFile, err)
	}
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10),
			strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	var out bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return fmt.Errorf("%s %s: %s (the ranges must be granted to the user in %s)", helper, strings.Join(args, " "), msg, subFile)
		}
		return fmt.Errorf("%s %s: %w", helper, strings.Join(args, " "), err)
	}
	return nil
}
