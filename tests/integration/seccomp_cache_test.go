package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// TestSeccompCache: ocirun keeps compiled seccomp programs in
// $OCIRUN_SECCOMP_CACHE. The second container with a profile loads the
// stored program (--trace names the phase) and it filters as the compiled
// one does; an entry another user owns, or a directory others may write
// to, is never used; "off" compiles every time.
func TestSeccompCache(t *testing.T) {
	if !bundle.IsOcirun(t) {
		t.Skip("the seccomp cache is ocirun's own")
	}
	t.Parallel()
	cache := filepath.Join(t.TempDir(), "cache")
	exdev := uint(18)
	profile := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &exdev}},
	}
	run := func(step, cacheEnv, wantPhase string) {
		t.Helper()
		b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "mkdir /tmp/d 2>&1; echo status=$?"))
		b.Edit(t, func(s *specs.Spec) { s.Linux.Seccomp = profile })
		tr := filepath.Join(t.TempDir(), "trace")
		r := b.RunWith(t, bundle.RunOpts{Env: []string{bundle.SeccompCacheEnv + "=" + cacheEnv}},
			"--trace", tr, "run", "--bundle", b.Dir, b.ID)
		if r.Code != 0 {
			t.Fatalf("%s: %s", step, r)
		}
		if !strings.Contains(strings.ToLower(r.Stdout), "cross-device") || !strings.Contains(r.Stdout, "status=1") {
			t.Errorf("%s: mkdir did not fail with EXDEV: %q", step, r.Stdout)
		}
		data, err := os.ReadFile(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"phase":"`+wantPhase+`"`) {
			t.Errorf("%s: no %s phase in the trace:\n%s", step, wantPhase, data)
		}
	}
	entry := func() (string, *syscall.Stat_t) {
		t.Helper()
		es, _ := filepath.Glob(filepath.Join(cache, "*"))
		if len(es) != 1 {
			t.Fatalf("cache entries %v, want one", es)
		}
		st, err := os.Stat(es[0])
		if err != nil {
			t.Fatal(err)
		}
		return es[0], st.Sys().(*syscall.Stat_t)
	}

	run("first container", cache, "seccomp-compile")
	name, st := entry()
	if st.Uid != uint32(os.Geteuid()) || st.Mode&0o777 != 0o600 {
		t.Errorf("entry owned by %d with mode %#o, want ours and 0600", st.Uid, st.Mode&0o777)
	}
	run("second container", cache, "seccomp-cached")

	if err := os.Chown(name, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	run("entry of another user", cache, "seccomp-compile")
	if _, st = entry(); st.Uid != uint32(os.Geteuid()) {
		t.Errorf("the foreign entry was not replaced: owner %d", st.Uid)
	}

	if err := os.Chmod(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	run("directory others can write to", cache, "seccomp-compile")
	run("directory others can write to, again", cache, "seccomp-compile")
	if err := os.Chmod(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	entry()

	run("cache off", "off", "seccomp-compile")
}
