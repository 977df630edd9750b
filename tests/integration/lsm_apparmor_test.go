package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// AppArmor for real: where it is the kernel's LSM, securityfs is mounted and
// apparmor_parser is at hand (the VM of contrib/test-lsm.sh), each test
// loads profiles of its own and unloads them when it ends.

// aaSecret is the one path the test profiles deny reading.
const aaSecret = "/etc/lsm-secret"

func appArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// requireAppArmor skips t unless profiles can be loaded here, and returns
// apparmor_parser's path.
func requireAppArmor(t *testing.T) string {
	t.Helper()
	if !appArmorEnabled() {
		t.Skip("AppArmor is not the kernel's LSM here (/sys/module/apparmor/parameters/enabled is not Y); contrib/test-lsm.sh runs these tests in a VM where it is")
	}
	if _, err := os.Stat("/sys/kernel/security/apparmor/.replace"); err != nil {
		t.Skipf("AppArmor is enabled but securityfs is not mounted on /sys/kernel/security: no profile can be loaded (%v)", err)
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		t.Skip("apparmor_parser (Debian package apparmor) is not in PATH: no profile can be loaded")
	}
	return parser
}

// loadProfile loads a profile that allows everything but reading aaSecret,
// under a name of its own, and unloads it when t ends. Call it before
// bundle.New: cleanups run last-in first-out, and the containers must be
// gone before their profile.
func loadProfile(t *testing.T, parser string) string {
	t.Helper()
	name := "ocirun-test-" + randomSuffix(t)
	text := fmt.Sprintf(`profile %s flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  umount,
  pivot_root,
  signal,
  ptrace,
  unix,
  deny %s r,
}
`, name, aaSecret)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(parser, "--replace", "--skip-cache", path).CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser --replace %s: %v\n%s", path, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(parser, "--remove", path).CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser --remove %s: %v\n%s", path, err, out)
		}
	})
	return name
}

// withSecret puts aaSecret into the rootfs, readable by anyone unconfined.
func withSecret(t *testing.T) bundle.Option {
	return func(b *bundle.Bundle) {
		if err := os.WriteFile(filepath.Join(b.Rootfs, aaSecret), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func withProfile(profile string) bundle.Option {
	return bundle.WithSpec(func(s *specs.Spec) { s.Process.ApparmorProfile = profile })
}

// TestLSMAppArmorProfile: the container's process runs confined by
// process.apparmorProfile, which it sees in its attr files and feels as the
// profile's one denial; the same bundle without a profile reads the file.
func TestLSMAppArmorProfile(t *testing.T) {
	t.Parallel()
	parser := requireAppArmor(t)
	prof := loadProfile(t, parser)
	run := func(profile string) *report.Report {
		b := bundle.New(t, withSecret(t), withProfile(profile), bundle.WithProbe("report",
			"--cat", "/proc/self/attr/current", "--cat", "/proc/self/attr/apparmor/current", "--cat", aaSecret))
		return b.Report(t)
	}

	rep := run(prof)
	want := prof + " (enforce)"
	for _, f := range []string{"/proc/self/attr/current", "/proc/self/attr/apparmor/current"} {
		if got := lsmAttr(rep.Cat[f]); got != want {
			t.Errorf("confined: %s is %q, want %q (errors: %v)", f, got, want, rep.Errors)
		}
	}
	if e := rep.Errors[aaSecret]; !strings.Contains(e, "permission denied") {
		t.Errorf("confined: reading %s gave %q (error %q), want permission denied by the profile", aaSecret, rep.Cat[aaSecret], e)
	}

	rep = run("")
	if got := lsmAttr(rep.Cat["/proc/self/attr/current"]); got != "unconfined" {
		t.Errorf("without a profile: /proc/self/attr/current is %q, want unconfined", got)
	}
	if rep.Cat[aaSecret] != "secret\n" {
		t.Errorf("without a profile: reading %s gave %q (error %q), want its content", aaSecret, rep.Cat[aaSecret], rep.Errors[aaSecret])
	}
}

// TestLSMAppArmorExec: every exec'd process gets the container's profile,
// whether started with flags or --process, unless --apparmor or the
// process.json's apparmorProfile names another.
func TestLSMAppArmorExec(t *testing.T) {
	t.Parallel()
	parser := requireAppArmor(t)
	prof, other := loadProfile(t, parser), loadProfile(t, parser)
	b := bundle.New(t, withSecret(t), withProfile(prof), bundle.WithProbe("sleep", "600"))
	b.RunDetached(t)
	checkExecLabels(t, b, prof+" (enforce)", "--apparmor", "apparmorProfile", other, other+" (enforce)")
	if r := b.Run(t, "exec", b.ID, "cat", aaSecret); r.Code == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Errorf("exec cat %s in a confined container: want permission denied, got %v", aaSecret, r)
	}
}

// TestLSMAppArmorMissingProfile: a profile that is not loaded is an error
// naming the field and the profile, never an unconfined container.
func TestLSMAppArmorMissingProfile(t *testing.T) {
	t.Parallel()
	requireAppArmor(t)
	missing := "ocirun-test-not-loaded-" + randomSuffix(t)
	b := bundle.New(t, withProfile(missing))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("run with a profile that is not loaded succeeded: %v", r)
	}
	assertNoCrash(t, r)
	if bundle.IsOcirun(t) && (!strings.Contains(r.Stderr, "process.apparmorProfile") || !strings.Contains(r.Stderr, missing)) {
		t.Errorf("run error does not name process.apparmorProfile and %q:\n%s", missing, r.Stderr)
	}

	b = bundle.New(t, bundle.WithProbe("sleep", "600"))
	b.RunDetached(t)
	r = b.Run(t, "exec", "--apparmor", missing, b.ID, "true")
	if r.Code == 0 {
		t.Fatalf("exec --apparmor with a profile that is not loaded succeeded: %v", r)
	}
	assertNoCrash(t, r)
	if bundle.IsOcirun(t) && (!strings.Contains(r.Stderr, "apparmorProfile") || !strings.Contains(r.Stderr, missing)) {
		t.Errorf("exec error does not name apparmorProfile and %q:\n%s", missing, r.Stderr)
	}
}

// TestLSMAppArmorFakeProc: something other than procfs on the container's
// /proc must not catch the profile write: a bind mount of a fake tree from
// the config (create may refuse it), and a tmpfs the container itself
// mounts over /proc before an exec.
func TestLSMAppArmorFakeProc(t *testing.T) {
	t.Parallel()
	parser := requireAppArmor(t)
	prof, other := loadProfile(t, parser), loadProfile(t, parser)

	t.Run("bind mount from the config", func(t *testing.T) {
		fake := t.TempDir()
		for _, d := range []string{"self/attr/apparmor", "self/fd", "thread-self/attr/apparmor", "thread-self/fd"} {
			if err := os.MkdirAll(filepath.Join(fake, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"self/attr/exec", "self/attr/apparmor/exec", "thread-self/attr/exec", "thread-self/attr/apparmor/exec"} {
			if err := os.WriteFile(filepath.Join(fake, f), nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		b := bundle.New(t, withProfile(prof), bundle.WithProbe("sleep", "600"),
			withMount(specs.Mount{Destination: "/proc", Type: "bind", Source: fake, Options: []string{"rbind"}}))
		r := b.Run(t, "run", "-d", "--bundle", b.Dir, b.ID)
		if r.Code != 0 {
			assertNoCrash(t, r)
			return // refused: nothing ran unconfined
		}
		if got, want := hostAttr(t, b.MustState(t).Pid), prof+" (enforce)"; got != want {
			t.Errorf("container over a fake /proc: host sees label %q, want %q", got, want)
		}
	})

	t.Run("tmpfs mounted by the container", func(t *testing.T) {
		b := fakeProcContainer(t, withProfile(prof))
		checkFakeProcExec(t, b, prof+" (enforce)")
		checkFakeProcExec(t, b, other+" (enforce)", "--apparmor", other)
	})
}

// TestLSMNoAppArmorProfileRefused: where AppArmor is not the kernel's LSM, a
// profile is refused rather than silently not applied.
func TestLSMNoAppArmorProfileRefused(t *testing.T) {
	t.Parallel()
	if appArmorEnabled() {
		t.Skip("AppArmor is enabled here: the profile would be applied")
	}
	b := bundle.New(t, withProfile("ocirun-test-profile"))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("run with process.apparmorProfile on a host without AppArmor succeeded: %v", r)
	}
	assertNoCrash(t, r)
	if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "process.apparmorProfile") {
		t.Errorf("run error does not name process.apparmorProfile:\n%s", r.Stderr)
	}

	b = bundle.New(t, bundle.WithProbe("sleep", "600"))
	b.RunDetached(t)
	if r := b.Run(t, "exec", "--apparmor", "ocirun-test-profile", b.ID, "true"); r.Code == 0 {
		t.Errorf("exec --apparmor on a host without AppArmor succeeded: %v", r)
	}
}
