package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The second round of process and LSM rules, beyond the CVE classes above: the LSM decision is the host's, procfs writes for the container
// never go through the container's /proc, and exec inherits the container's
// security settings.

// processJSON writes v as a process.json for `exec --process` and returns its path.
func processJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostHasSELinux tells whether the host kernel enforces SELinux (selinuxfs is
// mounted), where a label is applied rather than refused.
func hostHasSELinux() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// onlyInit fails t unless the container's init is the only process left of
// it: a refused exec must leave nothing running.
func onlyInit(t *testing.T, b *bundle.Bundle) {
	t.Helper()
	init := b.MustState(t).Pid
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := slices.DeleteFunc(b.LeftoverProcesses(), func(pid int) bool { return pid == init })
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes besides init %d left in the container: %v", init, left)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecuritySELinuxLabelDecidedOnHost: whether SELinux is enabled is the
// host's answer, not what init sees inside the container's mount namespace (no
// selinuxfs there): a process label on a host without SELinux is an error
// naming the field, as runc gives, in create and in both forms of exec; never a
// label silently dropped.
func TestSecuritySELinuxLabelDecidedOnHost(t *testing.T) {
	t.Parallel()
	if hostHasSELinux() {
		t.Skip("SELinux is enabled on this host: labels apply here (the VM suite checks attr/current); this test is for a host without it")
	}
	const lbl = "system_u:system_r:container_t:s0:c1,c2"
	// runc 1.1.5: "selinux label is specified in config, but selinux is
	// disabled or not supported". ocirun names the field.
	wantErr := func(t *testing.T, r bundle.Result) {
		t.Helper()
		assertNoCrash(t, r)
		if r.Code == 0 {
			t.Fatalf("a process label on a host without SELinux was accepted (and dropped): %v", r)
		}
		want := "selinux"
		if bundle.IsOcirun(t) {
			want = "process.selinuxLabel"
		}
		if !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(want)) {
			t.Errorf("error does not name %s: %s", want, r.Stderr)
		}
	}

	t.Run("create", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "30"), bundle.WithSpec(func(s *specs.Spec) {
			s.Process.SelinuxLabel = lbl
		}))
		wantErr(t, b.Run(t, "create", "--bundle", b.Dir, b.ID))
		b.CheckGone(t)
	})

	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "600"))
		b.RunDetached(t)
		t.Run("--process-label", func(t *testing.T) {
			wantErr(t, b.Run(t, "exec", "--process-label", lbl, b.ID, bundle.ProbePath, "exit", "0"))
			onlyInit(t, b)
		})
		t.Run("-p", func(t *testing.T) {
			p := processJSON(t, specs.Process{Args: []string{bundle.ProbePath, "exit", "0"}, Cwd: "/", SelinuxLabel: lbl})
			wantErr(t, b.Run(t, "exec", "-p", p, b.ID))
			onlyInit(t, b)
		})
	})

	// linux.mountLabel only labels files, and a host without SELinux has no
	// policy to read them: the container runs (the conformance test
	// linux_mount_label expects it), but never silently.
	t.Run("linux.mountLabel", func(t *testing.T) {
		t.Parallel()
		if !bundle.IsOcirun(t) {
			t.Skip("runc 1.1.5 passes context= to the tmpfs mount and fails with EINVAL; crun ignores it silently")
		}
		b := bundle.New(t, bundle.WithProbe("exit", "0"), bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
		}))
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		if r.Code != 0 {
			t.Fatalf("run with linux.mountLabel on a host without SELinux: %v", r)
		}
		if !strings.Contains(r.Stderr, "level=warn") || !strings.Contains(r.Stderr, "linux.mountLabel") {
			t.Errorf("no warning naming linux.mountLabel on stderr: %q", r.Stderr)
		}
	})
}

// TestSecurityAppArmorProfileDecidedOnHost: an AppArmor profile on a host
// without AppArmor is refused, by the parent, naming the field; as with
// SELinux, never dropped.
func TestSecurityAppArmorProfileDecidedOnHost(t *testing.T) {
	t.Parallel()
	// runc's test, and ocirun's: securityfs shows AppArmor and the module is on.
	_, err := os.Stat("/sys/kernel/security/apparmor")
	if b, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.HasPrefix(string(b), "Y") {
		t.Skip("AppArmor is enabled on this host: profiles apply here (the VM suite checks them); this test is for a host without it")
	}
	wantErr := func(t *testing.T, r bundle.Result) {
		t.Helper()
		assertNoCrash(t, r)
		if r.Code == 0 {
			t.Fatalf("an AppArmor profile on a host without AppArmor was accepted: %v", r)
		}
		want := "apparmor"
		if bundle.IsOcirun(t) {
			want = "process.apparmorProfile"
		}
		if !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(want)) {
			t.Errorf("error does not name %s: %s", want, r.Stderr)
		}
	}
	b := bundle.New(t, bundle.WithProbe("sleep", "600"), bundle.WithSpec(func(s *specs.Spec) {
		s.Process.ApparmorProfile = "ocirun-test-profile"
	}))
	wantErr(t, b.Run(t, "create", "--bundle", b.Dir, b.ID))
	b.CheckGone(t)

	b.Edit(t, func(s *specs.Spec) { s.Process.ApparmorProfile = "" })
	b.RunDetached(t)
	wantErr(t, b.Run(t, "exec", "--apparmor", "ocirun-test-profile", b.ID, bundle.ProbePath, "exit", "0"))
	onlyInit(t, b)
}

// TestSecurityOOMScoreAdjNotRedirected: process.oomScoreAdj is written from the
// host, never through the container's /proc: a container that mounts a fake
// tree over its /proc cannot catch the write for a process exec'd into it. The
// real value (read from the host's /proc/PID) is the requested one and the fake
// file keeps its content.
func TestSecurityOOMScoreAdjNotRedirected(t *testing.T) {
	t.Parallel()
	hostOOM := func(t *testing.T, pid int) string {
		t.Helper()
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/oom_score_adj")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	t.Run("create", func(t *testing.T) {
		t.Parallel()
		adj := 321
		b := bundle.New(t, bundle.WithProbe("sleep", "600"), bundle.WithSpec(func(s *specs.Spec) {
			s.Process.OOMScoreAdj = &adj
		}))
		b.RunDetached(t)
		if got := hostOOM(t, b.MustState(t).Pid); got != "321" {
			t.Errorf("init's oom_score_adj = %s, want 321", got)
		}
	})

	t.Run("exec after a tmpfs over /proc", func(t *testing.T) {
		t.Parallel()
		caps := []string{"CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"}
		b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
			// The container's own doing, after create: mount rules cannot stop it.
			s.Process.Args = []string{"/bin/sh", "-c", `busybox mount -t tmpfs fake /proc &&
				mkdir /proc/self && echo fake > /proc/self/oom_score_adj && touch /proc/ready && exec sleep 600`}
		}))
		b.RunDetached(t)
		root := "/proc/" + strconv.Itoa(b.MustState(t).Pid) + "/root"
		fake := root + "/proc/self/oom_score_adj"
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := os.Stat(root + "/proc/ready"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the container did not mount its fake /proc within 5s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		adj := 789
		p := processJSON(t, specs.Process{Args: []string{"/bin/sleep", "60"}, Cwd: "/", Env: []string{"PATH=/bin"}, OOMScoreAdj: &adj})
		pidFile := filepath.Join(t.TempDir(), "exec.pid")
		r := b.Run(t, "exec", "-d", "--pid-file", pidFile, "-p", p, b.ID)
		untouched := func() {
			t.Helper()
			if got, err := os.ReadFile(fake); err != nil || strings.TrimSpace(string(got)) != "fake" {
				t.Errorf("the container's fake /proc/self/oom_score_adj = %q (%v), want it untouched (\"fake\")", got, err)
			}
		}
		if r.Code != 0 && !bundle.IsOcirun(t) {
			// runc 1.1.5 refuses: it lists the fds to close in /proc/self/fd.
			t.Logf("exec refused: %s", strings.TrimSpace(r.Stderr))
			untouched()
			return
		}
		if r.Code != 0 {
			t.Fatalf("%v", r)
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		if got := hostOOM(t, pid); got != "789" {
			t.Errorf("exec'd process's real oom_score_adj = %s, want 789", got)
		}
		untouched()
	})
}

// statusHex returns a "Name:\tvalue" field of /proc/self/status text, failing t when absent.
func statusHex(t *testing.T, out, name string) string {
	t.Helper()
	v, ok := statusField(out, name)
	if !ok {
		t.Fatalf("no %s in %q", name, out)
	}
	return v
}

// nofile returns the soft and hard "Max open files" of /proc/self/limits text.
func nofile(t *testing.T, out string) (string, string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return f[0], f[1]
			}
		}
	}
	t.Fatalf("no Max open files in %q", out)
	return "", ""
}

// TestSecurityExecInheritsContainerSecurity: a process exec'd into a container
// inherits every security field it leaves out: a client that sends a bare
// process.json must not get the runtime's full capability set, no no_new_privs
// and the runtime's rlimits. An explicit value in the process.json still wins.
func TestSecurityExecInheritsContainerSecurity(t *testing.T) {
	t.Parallel()
	chown := []string{"CAP_CHOWN"}
	b := bundle.New(t, bundle.WithProbe("sleep", "600"), bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: chown, Effective: chown, Permitted: chown}
		s.Process.NoNewPrivileges = true
		// Under the host's nofile hard limit (20000 here): no raise needed.
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1000, Hard: 2000}}
	}))
	b.RunDetached(t)
	show := []string{"/bin/sh", "-c", "cat /proc/self/status /proc/self/limits"}
	// runc 1.1.5 reads a process.json without noNewPrivileges as false,
	// gives a process.json without rlimits none (the runtime's own) and sets
	// soft = hard for the ones it has (all seen here): logged, not failed,
	// so the rest of the test still checks it.
	deviation := func(t *testing.T, format string, a ...any) {
		t.Helper()
		if bundle.IsRunc(t) {
			t.Logf("runc (known): "+format, a...)
			return
		}
		t.Errorf(format, a...)
	}
	check := func(t *testing.T, r bundle.Result, caps, nnp, soft, hard string) {
		t.Helper()
		for _, f := range []string{"CapEff", "CapPrm", "CapBnd"} {
			if got := statusHex(t, r.Stdout, f); got != caps {
				t.Errorf("%s = %s, want %s", f, got, caps)
			}
		}
		if got := statusHex(t, r.Stdout, "NoNewPrivs"); got != nnp {
			deviation(t, "NoNewPrivs = %s, want %s", got, nnp)
		}
		if s, h := nofile(t, r.Stdout); s != soft || h != hard {
			deviation(t, "RLIMIT_NOFILE = %s/%s, want %s/%s", s, h, soft, hard)
		}
	}
	const onlyChown = "0000000000000001" // CAP_CHOWN is bit 0

	t.Run("-p without security fields", func(t *testing.T) {
		// No capabilities, noNewPrivileges, rlimits, apparmorProfile or selinuxLabel key.
		p := processJSON(t, map[string]any{"args": show, "cwd": "/", "env": []string{"PATH=/bin"}})
		check(t, b.MustRun(t, "exec", "-p", p, b.ID), onlyChown, "1", "1000", "2000")
	})
	t.Run("command line", func(t *testing.T) {
		check(t, b.MustRun(t, append([]string{"exec", b.ID}, show...)...), onlyChown, "1", "1000", "2000")
	})
	t.Run("-p with explicit values", func(t *testing.T) {
		chownKill := []string{"CAP_CHOWN", "CAP_KILL"}
		p := processJSON(t, map[string]any{
			"args": show, "cwd": "/", "env": []string{"PATH=/bin"},
			"capabilities":    specs.LinuxCapabilities{Bounding: chownKill, Effective: chownKill, Permitted: chownKill},
			"noNewPrivileges": false,
			"rlimits":         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 3000, Hard: 4000}},
		})
		// CAP_KILL is bit 5.
		check(t, b.MustRun(t, "exec", "-p", p, b.ID), "0000000000000021", "0", "3000", "4000")
	})
}

// TestSecurityTimeOffsetsNotRedirected: linux.timeOffsets go to
// /proc/self/timens_offsets from the C stage, after it joined the namespaces
// given by path: a joined mount namespace's /proc may be a fake tree its
// container put there. The write must reach the kernel, not the fake file: here
// container B joins the mount namespace of container A, which mounted a tmpfs
// with a fake self/timens_offsets over its /proc. B may fail later (its rootfs
// is a host path, absent in A's namespace); A's fake file must stay untouched
// either way.
func TestSecurityTimeOffsetsNotRedirected(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/timens_offsets"); err != nil {
		t.Skip("kernel without time namespaces")
	}
	caps := []string{"CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"}
	a := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		s.Process.Args = []string{"/bin/sh", "-c", `busybox mount -t tmpfs fake /proc &&
			mkdir /proc/self && echo fake > /proc/self/timens_offsets && touch /proc/ready && exec sleep 600`}
	}))
	a.RunDetached(t)
	aPid := a.MustState(t).Pid
	fake := "/proc/" + strconv.Itoa(aPid) + "/root/proc/self/timens_offsets"
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(aPid) + "/root/proc/ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("container A did not mount its fake /proc within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := bundle.New(t, bundle.WithProbe("sleep", "30"), bundle.WithSpec(func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.MountNamespace {
				s.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(aPid) + "/ns/mnt"
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 86400}}
	}))
	r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
	assertNoCrash(t, r)
	t.Logf("create joining A's mount namespace: exit %d %s", r.Code, strings.TrimSpace(r.Stderr))
	if got, err := os.ReadFile(fake); err != nil || strings.TrimSpace(string(got)) != "fake" {
		t.Errorf("container A's fake /proc/self/timens_offsets = %q (%v), want it untouched (\"fake\")", got, err)
	}
}
