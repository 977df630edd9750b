package criu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// ExtNetNSKey names a network namespace joined by path in the images: it is
// not the container's to dump, and restore hands criu the same path again.
const ExtNetNSKey = "extRootNetNS"

// DumpExternals lists what criu must record by name instead of dumping:
// bind mounts from the host, masked files (binds of /dev/null), and a
// network namespace joined by path.
func DumpExternals(cfg *configs.Config, pid int) ([]string, error) {
	var ext []string
	for _, m := range cfg.Mounts {
		if m.IsBind() {
			ext = append(ext, "mnt["+m.Destination+"]:"+m.Destination)
		}
	}
	root := filepath.Join("/proc", strconv.Itoa(pid), "root")
	for _, p := range cfg.MaskedPaths {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.IsDir() {
			continue
		}
		ext = append(ext, "mnt["+p+"]:"+p)
	}
	if ns, ok := cfg.Namespace(configs.NEWNET); ok && ns.Path != "" {
		var st unix.Stat_t
		if err := unix.Stat(ns.Path, &st); err != nil {
			return nil, &os.PathError{Op: "stat", Path: ns.Path, Err: err}
		}
		ext = append(ext, fmt.Sprintf("net[%d]:%s", st.Ino, ExtNetNSKey))
	}
	return ext, nil
}

// RestoreExternals maps the names DumpExternals recorded to host paths.
func RestoreExternals(cfg *configs.Config) []string {
	var ext []string
	for _, m := range cfg.Mounts {
		if m.IsBind() {
			ext = append(ext, "mnt["+m.Destination+"]:"+m.Source)
		}
	}
	// Unused names are ignored by criu: masked directories were dumped as
	// their tmpfs, only masked files were recorded.
	for _, p := range cfg.MaskedPaths {
		ext = append(ext, "mnt["+p+"]:/dev/null")
	}
	return ext
}

// WriteDescriptors records the init's stdio links beside the images.
func WriteDescriptors(dir string, links []string) error {
	b, err := json.Marshal(links)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+DescriptorsFile)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, DescriptorsFile))
}

// ReadDescriptors reads what WriteDescriptors (or runc) recorded.
func ReadDescriptors(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, DescriptorsFile))
	if err != nil {
		return nil, fmt.Errorf("images directory: %w (not a checkpoint of ocirun or runc?)", err)
	}
	var links []string
	if err := json.Unmarshal(b, &links); err != nil {
		return nil, fmt.Errorf("decode %s: %w", DescriptorsFile, err)
	}
	return links, nil
}

// CgroupRoots tells criu, on cgroup v1, where each hierarchy's dumped root
// cgroup now is: controllers (as "cpu,cpuacct") to the new container's dir.
func CgroupRoots(roots map[string]string) []CgroupRoot {
	var out []CgroupRoot
	for ctrl, path := range roots {
		out = append(out, CgroupRoot{Ctrl: ctrl, Path: path})
	}
	return out
}
