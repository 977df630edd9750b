package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsEntry maps a spec namespace type to its /proc/self/ns name.
var nsEntry = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.MountNamespace:   "mnt",
	specs.CgroupNamespace:  "cgroup",
	specs.UserNamespace:    "user",
	specs.TimeNamespace:    "time",
}

func hostNS(t *testing.T, pid string, name string) string {
	t.Helper()
	link, err := os.Readlink(filepath.Join("/proc", pid, "ns", name))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// TestNewNamespaces checks that each requested namespace is new and each other
// one is the host's.
func TestNewNamespaces(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}))
	rep := b.Report(t)
	created := map[string]bool{}
	for _, ns := range b.Spec.Linux.Namespaces {
		created[nsEntry[ns.Type]] = true
	}
	for _, name := range nsEntry {
		host := hostNS(t, "self", name)
		got, ok := rep.Namespaces[name]
		if !ok {
			t.Errorf("probe did not report namespace %s", name)
			continue
		}
		if created[name] && got == host {
			t.Errorf("namespace %s = %s: same as the host's, want a new one", name, got)
		}
		if !created[name] && got != host {
			t.Errorf("namespace %s = %s, want the host's %s", name, got, host)
		}
	}
	// In a new cgroup namespace the container's own cgroup is its root.
	if !strings.Contains(rep.Cgroup, "::/\n") {
		t.Errorf("cgroup in a new cgroupns = %q, want the root path", rep.Cgroup)
	}
}

// TestJoinNamespaces joins the network, ipc and uts namespaces of a sleeping
// first container by /proc/PID/ns path.
func TestJoinNamespaces(t *testing.T) {
	t.Parallel()
	first := bundle.New(t, bundle.WithProbe("sleep", "60"))
	first.RunDetached(t)
	pid := fmt.Sprint(first.MustState(t).Pid)

	joined := []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace}
	second := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Hostname = "" // the uts namespace is not ours to name
		var nss []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.PIDNamespace || ns.Type == specs.MountNamespace {
				nss = append(nss, ns)
			}
		}
		for _, typ := range joined {
			nss = append(nss, specs.LinuxNamespace{Type: typ, Path: filepath.Join("/proc", pid, "ns", nsEntry[typ])})
		}
		s.Linux.Namespaces = nss
	}))
	rep := second.Report(t)
	for _, typ := range joined {
		want := hostNS(t, pid, nsEntry[typ])
		if got := rep.Namespaces[nsEntry[typ]]; got != want {
			t.Errorf("namespace %s = %s, want the first container's %s", typ, got, want)
		}
	}
	if rep.Hostname != "ocirun-test" {
		t.Errorf("hostname = %q, want the first container's", rep.Hostname)
	}
	if want := hostNS(t, pid, "pid"); rep.Namespaces["pid"] == want {
		t.Errorf("pid namespace %s shared with the first container, want a new one", want)
	}
}

// TestUserNamespace maps container root to host uid/gid 100000 (65536 ids).
func TestUserNamespace(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}))
	// The mapped root is "other" to host-owned dirs: t.TempDir() makes them 0700.
	for _, d := range []string{filepath.Dir(b.Dir), b.Dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rep := b.Report(t)
	for name, got := range map[string]string{"uid_map": rep.UIDMap, "gid_map": rep.GIDMap} {
		if f := strings.Fields(got); len(f) != 3 || f[0] != "0" || f[1] != "100000" || f[2] != "65536" {
			t.Errorf("%s = %q, want \"0 100000 65536\"", name, got)
		}
	}
	if rep.UID != 0 || rep.GID != 0 {
		t.Errorf("uid/gid = %d/%d, want 0/0 inside", rep.UID, rep.GID)
	}
	if host := hostNS(t, "self", "user"); rep.Namespaces["user"] == host {
		t.Errorf("user namespace %s is the host's", host)
	}
}

// TestTimeNamespace shifts CLOCK_MONOTONIC and CLOCK_BOOTTIME.
func TestTimeNamespace(t *testing.T) {
	t.Parallel()
	const monoShift, bootShift = 1000, 2000 // seconds
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"monotonic": {Secs: monoShift},
			"boottime":  {Secs: bootShift},
		}
	}))
	var hostMono, hostBoot unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &hostMono)
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &hostBoot)
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code != 0 {
		if bundle.IsRunc(t) {
			// runc gained time namespaces in 1.2; 1.1.x rejects the type, which is
			// fine as long as it fails cleanly.
			b.CheckGone(t)
			t.Skipf("runc < 1.2 has no time namespace support: %s", strings.TrimSpace(r.Stderr))
		}
		t.Fatalf("%v", r)
	}
	rep := bundle.ParseReport(t, r.Stdout)
	shift := time.Duration(rep.Monotonic - hostMono.Nano())
	if shift < monoShift*time.Second || shift > (monoShift+20)*time.Second {
		t.Errorf("monotonic shift = %v, want about %ds", shift, monoShift)
	}
	hostGap := time.Duration(hostBoot.Nano() - hostMono.Nano())
	gap := time.Duration(rep.Boottime-rep.Monotonic) - hostGap
	if gap < (bootShift-monoShift-5)*time.Second || gap > (bootShift-monoShift+5)*time.Second {
		t.Errorf("boottime - monotonic = %v more inside than on the host, want about %ds", gap, bootShift-monoShift)
	}
	if host := hostNS(t, "self", "time"); rep.Namespaces["time"] == host {
		t.Errorf("time namespace %s is the host's", host)
	}
}

// TestLoopbackUp: a new network namespace gets lo up (runc and crun do so),
// so that 127.0.0.1 works in the container; a joined one is left as it is.
func TestLoopbackUp(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("report", "--cat", "/sys/class/net/lo/flags"),
		bundle.WithSpec(func(s *specs.Spec) {
			has := false
			for _, ns := range s.Linux.Namespaces {
				has = has || ns.Type == specs.NetworkNamespace
			}
			if !has {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
			}
		}))
	rep := b.Report(t)
	flags, err := strconv.ParseUint(strings.TrimSpace(rep.Cat["/sys/class/net/lo/flags"]), 0, 32)
	if err != nil {
		t.Fatalf("lo flags %q: %v", rep.Cat["/sys/class/net/lo/flags"], err)
	}
	if flags&unix.IFF_UP == 0 {
		t.Errorf("lo flags = %#x in a new network namespace, want IFF_UP set", flags)
	}
}
