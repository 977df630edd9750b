package integration

import (
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccomp runs a profile that makes mkdir fail with EXDEV (errnoRet) and
// checks it from inside: with and without no_new_privs (without it the filter
// is loaded before the uid switch, needing CAP_SYS_ADMIN), as root and as an
// unprivileged user.
func TestSeccomp(t *testing.T) {
	t.Parallel()
	exdev := uint(18)
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{{
			Names:    []string{"mkdir", "mkdirat"},
			Action:   specs.ActErrno,
			ErrnoRet: &exdev,
		}},
	}
	for _, tc := range []struct {
		name string
		nnp  bool
		uid  uint32
	}{
		{"nnp-root", true, 0},
		{"no-nnp-root", false, 0},
		{"no-nnp-user", false, 1000},
		{"nnp-user", true, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/d 2>&1; echo status=$?"))
			b.Edit(t, func(s *specs.Spec) {
				s.Linux.Seccomp = profile
				s.Process.NoNewPrivileges = tc.nnp
				s.Process.User.UID, s.Process.User.GID = tc.uid, tc.uid
			})
			r := b.MustRun(t, "run", "--bundle", b.Dir, b.ID)
			out := r.Stdout
			if !strings.Contains(out, "Seccomp:\t2") {
				t.Errorf("no seccomp filter in the container: %q", out)
			}
			if !strings.Contains(strings.ToLower(out), "cross-device") || !strings.Contains(out, "status=1") {
				t.Errorf("mkdir did not fail with EXDEV: %q", out)
			}
			wantNNP := "NoNewPrivs:\t0"
			if tc.nnp {
				wantNNP = "NoNewPrivs:\t1"
			}
			if !strings.Contains(out, wantNNP) {
				t.Errorf("want %s in %q", wantNNP, out)
			}
		})
	}
}

// TestSeccompNotifyDefaultRefused: SCMP_ACT_NOTIFY cannot be the default
// action (nothing would be left to answer the notifications).
func TestSeccompNotifyDefaultRefused(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("exit", "0"))
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/run/x.sock"}
	})
	r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("create with SCMP_ACT_NOTIFY as default action succeeded")
	}
	if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "linux.seccomp.defaultAction") {
		t.Errorf("error %q does not name linux.seccomp.defaultAction", r.Stderr)
	}
	b.CheckGone(t)
}
