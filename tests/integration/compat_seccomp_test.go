package integration

import (
	_ "embed"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Seccomp and hook behaviours of issue 15 (compatibility with runc 1.4).

// dockerDefaultJSON is the seccomp profile Docker ships (a copy of the
// seccomp package's golden input), embedded: the cgroup v2 VM runs the test
// binary without the source tree.
//
//go:embed testdata/seccomp-docker-default.json
var dockerDefaultJSON []byte

// dockerDefaultProfile is Docker's profile: default SCMP_ACT_ERRNO (EPERM),
// x86 archs.
func dockerDefaultProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(dockerDefaultJSON, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestSeccompUnknownSyscallENOSYS: under a profile whose default action is an
// errno, a syscall number above every one the profile knows answers ENOSYS,
// as runc does, so that a program probing a syscall newer than the profile
// falls back instead of failing on EPERM. A known syscall the profile leaves
// out still gets the default errno.
func TestSeccompUnknownSyscallENOSYS(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 answers ENOSYS only up to the numbers its libseccomp knows")
	}
	// 163 is acct on x86_64, outside Docker's allow list without CAP_SYS_PACCT.
	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c",
		"for nr in 163 468 500 1000 100000; do echo $nr $(/bin/probe syscall $nr); done"))
	b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = dockerDefaultProfile(t) })
	r := b.MustRun(t, "run", "--bundle", b.Dir, b.ID)
	want := "163 errno EPERM\n468 errno ENOSYS\n500 errno ENOSYS\n1000 errno ENOSYS\n100000 errno ENOSYS\n"
	if r.Stdout != want {
		t.Errorf("syscall answers:\n%s\nwant:\n%s", r.Stdout, want)
	}
}

// TestSeccompFlagsFeatures: `features` lists the SECCOMP_FILTER_FLAG_* names
// runc 1.4 reports on this kernel, in runc's order, TSYNC included (runc
// always sets it), and WAIT_KILLABLE_RECV after them: the runtime-spec lists
// it, runc does not know it. A profile naming TSYNC runs.
func TestSeccompFlagsFeatures(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 has no features command")
	}
	b := bundle.New(t)
	r := b.MustRun(t, "features")
	var f features.Features
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatalf("features is not JSON: %v\n%s", err, r.Stdout)
	}
	if f.Linux == nil || f.Linux.Seccomp == nil {
		t.Fatalf("features has no linux.seccomp: %s", r.Stdout)
	}
	want := []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}
	if got := f.Linux.Seccomp.SupportedFlags; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("supportedFlags = %q, want %q", got, want)
	}
	if got := f.Linux.Seccomp.KnownFlags; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("knownFlags = %q, want %q", got, want)
	}

	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}}
	})
	if rep := bundle.ParseReport(t, b.MustRun(t, "run", "--bundle", b.Dir, b.ID).Stdout); rep.Seccomp != "2" {
		t.Errorf("Seccomp %q with flags [TSYNC], want a filter (2)", rep.Seccomp)
	}
}

// TestHookStartContainerSeccomp: a startContainer hook runs in the
// container after its seccomp filter is loaded (runc 1.4), so the profile
// binds it like the process.
func TestHookStartContainerSeccomp(t *testing.T) {
	t.Parallel()
	exdev := uint(18)
	b := bundle.New(t, bundle.WithProbe("exit", "0"), bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &exdev}},
		}
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{shHook("mkdir /tmp/hookdir 2>/tmp/hook.err; echo $? > /tmp/hook.rc")}}
	}))
	b.MustRun(t, "run", "--bundle", b.Dir, b.ID)
	if _, err := os.Stat(filepath.Join(b.Rootfs, "tmp", "hookdir")); err == nil {
		t.Errorf("the startContainer hook made a directory the profile forbids")
	}
	msg, _ := os.ReadFile(filepath.Join(b.Rootfs, "tmp", "hook.err"))
	if !strings.Contains(strings.ToLower(string(msg)), "cross-device") {
		t.Errorf("hook's mkdir error %q, want EXDEV from the profile", msg)
	}
}

// TestHookStartContainerEnv: a startContainer hook without env of its own
// gets the process's environment (runc 1.4: it runs from the container's init
// once the process environment is set); one with env gets only that.
func TestHookStartContainerEnv(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("exit", "0"), bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Env = append(s.Process.Env, "ONE=two", "MULTI=a\nb")
		withEnv := shHook("env > /tmp/hook-own.env")
		withEnv.Env = []string{"OWN=yes"}
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{shHook("env > /tmp/hook.env"), withEnv}}
	}))
	b.MustRun(t, "run", "--bundle", b.Dir, b.ID)
	env, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp", "hook.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"ONE=two", "MULTI=a\nb", "HOME=/root", "PATH=/usr/local/sbin:"} {
		if !strings.Contains(string(env), v) {
			t.Errorf("startContainer hook env lacks %q:\n%s", v, env)
		}
	}
	own, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp", "hook-own.env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(own), "OWN=yes") || strings.Contains(string(own), "ONE=two") {
		t.Errorf("startContainer hook with env got:\n%s\nwant OWN=yes and not the process env", own)
	}
}

// TestHookCreateContainerCwd: createContainer hooks run with the container's
// rootfs as their working directory (runc 1.4 runs them from init after it
// enters the rootfs, before pivot_root), so relative paths land in it.
func TestHookCreateContainerCwd(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("exit", "0"), bundle.WithSpec(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{shHook("pwd -P > tmp/createContainer.cwd")}}
	}))
	b.MustRun(t, "run", "--bundle", b.Dir, b.ID)
	cwd, err := os.ReadFile(filepath.Join(b.Rootfs, "tmp", "createContainer.cwd"))
	if err != nil {
		t.Fatalf("the hook's relative path did not land in the rootfs: %v", err)
	}
	want, err := filepath.EvalSymlinks(b.Rootfs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(cwd)) != want {
		t.Errorf("createContainer hook cwd %q, want the rootfs %q", cwd, want)
	}
}
