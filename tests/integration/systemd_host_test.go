package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The host runs no systemd, so the systemd cgroup driver is tested against one
// booted as PID 1 of a privileged container (its own pid, mount and cgroup
// namespaces), with the runtime under test run again inside it through `exec`:
//
//	host: runtime --root T/state run -d sd        (systemd container)
//	  systemd: runtime exec sd /ocirun-test/runtime --systemd-cgroup --root /run/oci ...
//	    nested container in /system.slice/<prefix>-<id>.scope (systemd's view)
//
// Pids and cgroup paths the nested runtime reports are those of systemd's
// namespaces; on the host the scope lies under the systemd container's cgroup.

const (
	systemdBinary = "/lib/systemd/systemd"
	// sdRuntime is where the runtime under test is bound in the systemd container.
	sdRuntime = "/ocirun-test/runtime"
	// sdShare is where the host dir holding nested bundles and their I/O is bound.
	sdShare = "/share"
	// sdRoot is the nested runtime's --root: on systemd's /run tmpfs, so it goes
	// with the container.
	sdRoot = "/run/oci"
)

// systemdHost is a running systemd container.
type systemdHost struct {
	ctr   *bundle.Bundle
	share string // host side of sdShare
	calls atomic.Int64
}

// allCaps is a privileged container's set: systemd mounts, creates cgroups,
// and the nested runtime needs everything a runtime needs on a host. No
// CAP_SYS_RESOURCE: sandboxes like this one drop it from the bounding set, and
// asking for a capability the runtime lacks fails the start.
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// startSystemd boots systemd in a container of its own and waits until it
// answers; the container is force-deleted (and checked gone) in cleanup, after
// the nested containers' own cleanups.
func startSystemd(t *testing.T) *systemdHost {
	t.Helper()
	if _, err := os.Stat(systemdBinary); err != nil {
		t.Skipf("%s is missing: the systemd cgroup driver needs a systemd to talk to", systemdBinary)
	}
	runtime := bundle.Runtime(t)
	ctr := bundle.New(t)
	h := &systemdHost{ctr: ctr, share: t.TempDir()}
	units := t.TempDir()
	// An empty default.target: systemd starts none of the host's units, only
	// what the tests create, so it is up in about a second.
	if err := os.WriteFile(filepath.Join(units, "default.target"), []byte("[Unit]\nDescription=ocirun test target\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := makeSystemdRootfs(ctr.Rootfs); err != nil {
		t.Fatal(err)
	}
	ctr.Edit(t, func(s *specs.Spec) { systemdSpec(s, runtime, units, h.share) })
	ctr.RunDetached(t)
	ctr.MustState(t) // records the pid for the cleanup's check

	deadline := time.Now().Add(20 * time.Second)
	for {
		r := ctr.Run(t, "exec", ctr.ID, "systemctl", "is-system-running")
		switch strings.TrimSpace(r.Stdout) {
		case "running", "degraded":
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd in %s not up after 20s: %v", ctr.ID, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topDirs are the host's program and library dirs the systemd container
// sees: a merged-/usr host has them as symlinks into /usr, which the rootfs
// copies; others (the cgroup v2 VM's busybox root) are bound from the host.
var topDirs = []string{"bin", "sbin", "lib", "lib64"}

// makeSystemdRootfs replaces the probe rootfs with the host's /usr (bound in
// systemdSpec) behind the host's own merged-/usr symlinks.
func makeSystemdRootfs(rootfs string) error {
	if err := os.RemoveAll(rootfs); err != nil {
		return err
	}
	for _, d := range []string{"dev", "etc", "proc", "sys", "usr", "run", "tmp", "var", "root", "share", "ocirun-test"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	for _, l := range topDirs {
		target, err := os.Readlink("/" + l)
		if err != nil {
			// Not a symlink (or absent): a dir to bind over, see systemdSpec.
			if err := os.MkdirAll(filepath.Join(rootfs, l), 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.Symlink(target, filepath.Join(rootfs, l)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(rootfs, "ocirun-test", "runtime"), nil, 0o755)
}

func systemdSpec(s *specs.Spec, runtime, units, share string) {
	s.Process.Args = []string{systemdBinary, "--log-level=info"}
	s.Process.Env = append(s.Process.Env, "container=ocirun")
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: allCaps, Effective: allCaps, Permitted: allCaps}
	s.Process.NoNewPrivileges = false
	s.Hostname = "ocirun-systemd"
	for i, m := range s.Mounts {
		switch m.Destination {
		case "/sys":
			s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
		case "/sys/fs/cgroup":
			s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "rw"}
		}
	}
	bind := func(dst, src string, opts ...string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
	}
	tmpfs := func(dst string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}}
	}
	s.Mounts = append(s.Mounts,
		bind("/usr", "/usr", "ro"),
		bind("/etc", "/etc", "ro"),
		bind("/etc/systemd/system", units, "ro"),
		tmpfs("/run"), tmpfs("/tmp"), tmpfs("/var"),
		bind(sdShare, share, "rw"),
		bind(sdRuntime, runtime, "ro"),
	)
	for _, l := range topDirs {
		if fi, err := os.Lstat("/" + l); err == nil && fi.IsDir() {
			s.Mounts = append(s.Mounts, bind("/"+l, "/"+l, "ro"))
		}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	s.Linux.MaskedPaths = nil
	s.Linux.ReadonlyPaths = nil
}

// exec runs a command in the systemd container. The outer runtime hands the
// command pipes and waits for their EOF, so nothing that outlives the command
// may inherit its stdio: use nested for the runtime.
func (h *systemdHost) exec(t *testing.T, args ...string) bundle.Result {
	t.Helper()
	return h.ctr.Run(t, append([]string{"exec", h.ctr.ID}, args...)...)
}

// mustExec is exec that fails the test on a non-zero exit.
func (h *systemdHost) mustExec(t *testing.T, args ...string) string {
	t.Helper()
	r := h.exec(t, args...)
	if r.Code != 0 {
		t.Fatalf("in systemd container: %v", r)
	}
	return r.Stdout
}

// nested runs the runtime under test inside the systemd container with the
// nested --root. Its stdio are files in the share: a detached container
// inherits them, and an outer pipe would keep the outer exec waiting (runc's
// exec does) until that container exits.
func (h *systemdHost) nested(t *testing.T, args ...string) bundle.Result {
	t.Helper()
	n := h.calls.Add(1)
	io := filepath.Join(h.share, "io")
	if err := os.MkdirAll(io, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errf := fmt.Sprintf("%d.out", n), fmt.Sprintf("%d.err", n)
	full := append([]string{sdRuntime, "--root", sdRoot}, args...)
	script := fmt.Sprintf(`exec "$@" </dev/null >%s/io/%s 2>%s/io/%s`, sdShare, out, sdShare, errf)
	r := h.exec(t, append([]string{"sh", "-c", script, "sh"}, full...)...)
	r.Args = full
	stdout, _ := os.ReadFile(filepath.Join(io, out))
	stderr, _ := os.ReadFile(filepath.Join(io, errf))
	r.Stdout, r.Stderr = string(stdout), r.Stderr+string(stderr)
	return r
}

func (h *systemdHost) mustNested(t *testing.T, args ...string) bundle.Result {
	t.Helper()
	r := h.nested(t, args...)
	if r.Code != 0 {
		t.Fatalf("nested: %v", r)
	}
	return r
}

// unitProps returns `systemctl show` of the given properties as a map.
func (h *systemdHost) unitProps(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"systemctl", "show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out := h.mustExec(t, args...)
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// nestedCtr is one container of the nested runtime, in a systemd scope.
type nestedCtr struct {
	h     *systemdHost
	b     *bundle.Bundle // host view of the bundle; b.Root is unused
	dir   string         // bundle dir as the nested runtime sees it
	unit  string         // prefix-id.scope
	cgrel string         // the scope's cgroup path in systemd's namespace
}

// newNested makes a bundle for the nested runtime with cgroupsPath
// slice:prefix:id; sliceDir is where systemd puts that slice ("/system.slice",
// "/ocirunt.slice/ocirunt-a.slice"). Cleanup force-deletes it and checks that
// the unit, its cgroups and the nested state are gone.
func (h *systemdHost) newNested(t *testing.T, slice, sliceDir, prefix string, opts ...bundle.Option) *nestedCtr {
	t.Helper()
	b := bundle.NewUnmanaged(t, h.share, opts...)
	n := &nestedCtr{h: h, b: b, dir: sdShare + "/" + b.ID, unit: prefix + "-" + b.ID + ".scope"}
	n.cgrel = sliceDir + "/" + n.unit
	b.Edit(t, func(s *specs.Spec) { s.Linux.CgroupsPath = slice + ":" + prefix + ":" + b.ID })
	t.Cleanup(func() {
		if r := h.nested(t, "delete", "--force", b.ID); r.Code != 0 {
			t.Errorf("cleanup: %v", r)
		}
		n.checkGone(t)
	})
	return n
}

func (n *nestedCtr) runDetached(t *testing.T, systemdFlag bool) bundle.Result {
	t.Helper()
	return n.h.mustNested(t, n.globals(systemdFlag, "run", "-d", "--bundle", n.dir, n.b.ID)...)
}

func (n *nestedCtr) globals(systemdFlag bool, args ...string) []string {
	if systemdFlag {
		return append([]string{"--systemd-cgroup"}, args...)
	}
	return args
}

func (n *nestedCtr) state(t *testing.T) specs.State {
	t.Helper()
	r := n.h.mustNested(t, "state", n.b.ID)
	var st specs.State
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("nested state is not JSON: %v\n%v", err, r)
	}
	return st
}

// hostDirs are the host's directories of cgrel (a cgroup path in systemd's
// namespace), one per hierarchy.
func (h *systemdHost) hostDirs(t *testing.T, cgrel string) []string {
	t.Helper()
	dirs, err := bundle.CgroupDirs(h.ctr.CgroupsPath + cgrel)
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// unitLeftovers says what is left of a unit that should be gone: loaded and
// not inactive, or its cgroup (cgrel) still a directory in some hierarchy.
func (h *systemdHost) unitLeftovers(t *testing.T, unit, cgrel string) []string {
	t.Helper()
	var left []string
	p := h.unitProps(t, unit, "LoadState", "ActiveState")
	if p["LoadState"] != "not-found" && p["ActiveState"] != "inactive" {
		left = append(left, fmt.Sprintf("unit %s still %s/%s", unit, p["LoadState"], p["ActiveState"]))
	}
	for _, d := range h.hostDirs(t, cgrel) {
		if _, err := os.Stat(d); err == nil {
			left = append(left, "cgroup dir left behind: "+d)
		}
	}
	return left
}

// waitGone polls leftovers for up to 5 s (systemd stops units and removes
// their cgroups asynchronously) and reports what is still there then.
func waitGone(t *testing.T, leftovers func() []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftovers()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, l := range left {
				t.Error(l)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cgFile reads a knob of the scope in the first hierarchy that has it.
func (n *nestedCtr) cgFile(t *testing.T, name string) string {
	t.Helper()
	return n.h.scopeFile(t, n.cgrel, name)
}

// scopeFile reads a knob of cgrel (a cgroup path in systemd's namespace)
// from the host, in the first hierarchy that has it.
func (h *systemdHost) scopeFile(t *testing.T, cgrel, name string) string {
	t.Helper()
	for _, d := range h.hostDirs(t, cgrel) {
		if data, err := os.ReadFile(filepath.Join(d, name)); err == nil {
			return strings.TrimSpace(string(data))
		}
	}
	t.Errorf("no %s in any hierarchy of %s", name, cgrel)
	return ""
}

// checkGone asserts the unit is unloaded or inactive, no hierarchy holds the
// scope's directory and the nested root holds no state for it.
func (n *nestedCtr) checkGone(t *testing.T) {
	t.Helper()
	waitGone(t, func() []string {
		left := n.h.unitLeftovers(t, n.unit, n.cgrel)
		if r := n.h.exec(t, "test", "-e", sdRoot+"/"+n.b.ID); r.Code == 0 {
			left = append(left, "nested state dir left behind: "+sdRoot+"/"+n.b.ID)
		}
		return left
	})
}

// procCgroup is /proc/PID/cgroup as systemd's namespaces see it, keyed by
// hierarchy ("memory", "pids", "name=systemd", "" for v2).
func (h *systemdHost) procCgroup(t *testing.T, pid int) map[string]string {
	t.Helper()
	out := h.mustExec(t, "cat", "/proc/"+strconv.Itoa(pid)+"/cgroup")
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m
}
