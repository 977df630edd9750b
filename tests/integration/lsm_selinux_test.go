package integration

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SELinux for real: where it is the kernel's LSM with a policy loaded (the
// VM of contrib/test-lsm.sh boots with security=selinux and loads Debian's
// selinux-policy-default, permissive). That policy has no container_t; its
// sVirt types are the ones libvirt gives to guests, with MCS categories
// (commas: the mount option must be quoted).
const (
	seLabel      = "system_u:system_r:svirt_t:s0:c1,c2"
	seOtherLabel = "system_u:system_r:svirt_t:s0:c3,c4"
	seMountLabel = "system_u:object_r:svirt_image_t:s0:c1,c2"
)

// seLinuxEnabled reports whether SELinux is the kernel's LSM with a policy
// loaded, and if not, why.
func seLinuxEnabled() (bool, string) {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
		return false, "SELinux is not enabled here (no selinuxfs on /sys/fs/selinux)"
	}
	cur, err := os.ReadFile("/proc/self/attr/current")
	if err != nil || !strings.Contains(lsmAttr(string(cur)), ":") {
		return false, "SELinux is enabled but no policy is loaded (/proc/self/attr/current is not a context)"
	}
	return true, ""
}

// requireSELinux skips t unless SELinux is enabled with a policy that knows
// the test labels (it fails when the policy does not: a VM set up wrong).
func requireSELinux(t *testing.T) {
	t.Helper()
	if ok, why := seLinuxEnabled(); !ok {
		t.Skip(why + "; contrib/test-lsm.sh runs these tests in a VM where it is")
	}
	for _, l := range []string{seLabel, seOtherLabel, seMountLabel} {
		// selinuxfs refuses a context the loaded policy does not define.
		if err := os.WriteFile("/sys/fs/selinux/context", []byte(l), 0); err != nil {
			t.Fatalf("the loaded policy has no %s (%v): load Debian's selinux-policy-default", l, err)
		}
	}
}

func withSELinuxLabel(l string) bundle.Option {
	return bundle.WithSpec(func(s *specs.Spec) { s.Process.SelinuxLabel = l })
}

// TestLSMSELinuxProcessLabel: the container's process runs with
// process.selinuxLabel.
func TestLSMSELinuxProcessLabel(t *testing.T) {
	t.Parallel()
	requireSELinux(t)
	b := bundle.New(t, withSELinuxLabel(seLabel), bundle.WithProbe("report", "--cat", "/proc/self/attr/current"))
	rep := b.Report(t)
	if got := lsmAttr(rep.Cat["/proc/self/attr/current"]); got != seLabel {
		t.Errorf("/proc/self/attr/current is %q, want process.selinuxLabel %q (errors: %v)", got, seLabel, rep.Errors)
	}
}

// TestLSMSELinuxExec: every exec'd process gets the container's label,
// whether started with flags or --process, unless --process-label or the
// process.json's selinuxLabel names another.
func TestLSMSELinuxExec(t *testing.T) {
	t.Parallel()
	requireSELinux(t)
	b := bundle.New(t, withSELinuxLabel(seLabel), bundle.WithProbe("sleep", "600"))
	b.RunDetached(t)
	if got := hostAttr(t, b.MustState(t).Pid); got != seLabel {
		t.Errorf("container init: host sees label %q, want %q", got, seLabel)
	}
	checkExecLabels(t, b, seLabel, "--process-label", "selinuxLabel", seOtherLabel, seOtherLabel)
}

// TestLSMSELinuxMountLabel: linux.mountLabel labels the filesystems the
// runtime mounts that take a label (read from the host through the init's
// root). How is the runtime's business: tmpfs and devpts take a context=
// mount option; an IPC namespace's mqueue superblock exists before the
// mount, so it can only be relabelled.
func TestLSMSELinuxMountLabel(t *testing.T) {
	t.Parallel()
	requireSELinux(t)
	b := bundle.New(t, withSELinuxLabel(seLabel), bundle.WithProbe("sleep", "600"), bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.MountLabel = seMountLabel
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}})
	}))
	b.RunDetached(t)
	root := "/proc/" + strconv.Itoa(b.MustState(t).Pid) + "/root"
	for _, mp := range []string{"/dev", "/dev/shm", "/dev/pts", "/dev/mqueue", "/run"} {
		buf := make([]byte, 256)
		n, err := unix.Getxattr(root+mp, "security.selinux", buf)
		if err != nil {
			t.Errorf("label of %s: %v", mp, err)
			continue
		}
		if got := lsmAttr(string(buf[:n])); got != seMountLabel {
			t.Errorf("%s is labelled %q, want linux.mountLabel %q", mp, got, seMountLabel)
		}
	}
}

// TestLSMSELinuxFakeProc: a tmpfs the container mounts over /proc must not
// catch an exec'd process's label write.
func TestLSMSELinuxFakeProc(t *testing.T) {
	t.Parallel()
	requireSELinux(t)
	b := fakeProcContainer(t, withSELinuxLabel(seLabel))
	checkFakeProcExec(t, b, seLabel)
	checkFakeProcExec(t, b, seOtherLabel, "--process-label", seOtherLabel)
}

// TestLSMNoSELinuxLabelRefused: where SELinux is not enabled, a process
// label is refused rather than silently not applied.
func TestLSMNoSELinuxLabelRefused(t *testing.T) {
	t.Parallel()
	if ok, _ := seLinuxEnabled(); ok {
		t.Skip("SELinux is enabled here: the label would be applied")
	}
	b := bundle.New(t, withSELinuxLabel(seLabel))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("run with process.selinuxLabel on a host without SELinux succeeded: %v", r)
	}
	assertNoCrash(t, r)
	if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "process.selinuxLabel") {
		t.Errorf("run error does not name process.selinuxLabel:\n%s", r.Stderr)
	}

	b = bundle.New(t, bundle.WithProbe("sleep", "600"))
	b.RunDetached(t)
	if r := b.Run(t, "exec", "--process-label", seLabel, b.ID, "true"); r.Code == 0 {
		t.Errorf("exec --process-label on a host without SELinux succeeded: %v", r)
	}
}
