package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
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

// maxIDMapped bounds the idmapped mounts of one container: each travels to
// a Go init as an fd on the config's frame (proto's maxFds).
const maxIDMapped = 64

// idmapMounts makes the config's idmapped mounts, here in the host's user
// namespace, where mount_setattr(MOUNT_ATTR_IDMAP) is allowed: a detached
// clone of each source with its mapping set, by mount index. The rootfs
// code attaches them like any bind (rootfs.Options.IDMapped). containerNS
// is the container's user namespace (/proc/<init>/ns/user), for a mount
// without maps of its own; "" when there is none (specconv refused that).
func idmapMounts(cfg *configs.Config, containerNS string) (mounts map[int]*os.File, err error) {
	mounts = map[int]*os.File{}
	defer func() {
		if err != nil {
			for _, f := range mounts {
				f.Close()
			}
			mounts = nil
		}
	}()
	userns := map[string]*os.File{} // one namespace per distinct mapping
	defer func() {
		for _, f := range userns {
			f.Close()
		}
	}()
	for i := range cfg.Mounts {
		m := &cfg.Mounts[i]
		if !m.IDMapped {
			continue
		}
		if len(mounts) == maxIDMapped {
			return nil, fmt.Errorf("mounts[%d]: more than %d idmapped mounts", i, maxIDMapped)
		}
		key := fmt.Sprint(m.UIDMappings, m.GIDMappings)
		ns := userns[key]
		if ns == nil {
			if len(m.UIDMappings) == 0 {
				ns, err = os.Open(containerNS)
			} else {
				ns, err = newUserNS(m.UIDMappings, m.GIDMappings)
			}
			if err != nil {
				return nil, fmt.Errorf("mounts[%d]: user namespace for the idmapped mount: %w", i, err)
			}
			userns[key] = ns
		}
		mnt, err := idmappedClone(m, ns)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d] (bind on %q): %w", i, m.Destination, err)
		}
		mounts[i] = mnt
	}
	return mounts, nil
}

// idmappedClone clones m's source, detached, and idmaps it with the maps
// of the user namespace ns.
func idmappedClone(m *configs.Mount, ns *os.File) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE)
	if m.Flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	mnt, err := sys.OpenTree(nil, m.Source, flags)
	if err != nil {
		return nil, err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	if err := sys.MountSetattr(mnt, m.IDMapRecursive, attr); err != nil {
		mnt.Close()
		switch {
		case errors.Is(err, unix.ENOSYS):
			return nil, fmt.Errorf("idmapped mounts need Linux 5.12 or later (mount_setattr): %w", err)
		case errors.Is(err, unix.EINVAL):
			return nil, fmt.Errorf("the filesystem of %q cannot be idmapped (or a submount's, with ridmap): %w", m.Source, err)
		}
		return nil, fmt.Errorf("idmap %q: %w", m.Source, err)
	}
	return mnt, nil
}

// envUsernsHold makes `ocirun` (its C constructor, nsexec.c) block until
// its stdin closes and exit, doing nothing else: a process that only holds
// a user namespace whose maps the parent sets.
const envUsernsHold = "_OCIRUN_USERNS_HOLD"

// newUserNS returns an fd of a new user namespace with the given maps,
// for an idmapped mount. The namespace needs a process while its maps are
// written: ourselves, re-executed in it, blocking in C before Go starts;
// os/exec writes the maps before that process runs.
func newUserNS(uids, gids []configs.IDMap) (*os.File, error) {
	conv := func(maps []configs.IDMap) []syscall.SysProcIDMap {
		out := make([]syscall.SysProcIDMap, len(maps))
		for i, m := range maps {
			out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
		}
		return out
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:  "/proc/self/exe",
		Args:  []string{"ocirun-userns"},
		Env:   []string{envUsernsHold + "=1"},
		Stdin: r,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: conv(uids),
			GidMappings: conv(gids),
			// The maps are all that matters; setgroups stays allowed.
			GidMappingsEnableSetgroups: true,
			Pdeathsig:                  unix.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start a process in a new user namespace: %w", err)
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	w.Close()
	if werr := cmd.Wait(); werr != nil && err == nil {
		ns.Close()
		return nil, fmt.Errorf("the user namespace's process: %w", werr)
	}
	return ns, err
}

// hostID maps id of the container to the host through maps; an id
// outside them is its own.
func hostID(maps []configs.IDMap, id uint32) uint32 {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return m.HostID + id - m.ContainerID
		}
	}
	return id
}
