package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// The security suite (security_*_test.go) has one test per class of attack
// that hit runc, crun or youki (CVE classes, named in each test): a hostile
// bundle built on the fly, and an
// assertion made on the host side (a victim temp dir that must stay empty, a
// checksum, the host's mount table, a kernel file's content).

// fileSHA256 is the hex checksum of path.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// victimDir is a host directory a hostile bundle aims at. It must stay empty
// and free of mounts; the check runs again at cleanup, after the container is gone.
func victimDir(t *testing.T) string {
	t.Helper()
	// Outside the bundle's temp dir, so a rootfs-relative "../.." escape
	// cannot happen to land back inside the bundle.
	dir, err := os.MkdirTemp("", "ocirun-victim-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		assertUntouched(t, dir)
		os.RemoveAll(dir)
	})
	return dir
}

// assertUntouched fails t if the host dir gained entries or a mount is at or below it.
func assertUntouched(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("victim %s: %v", dir, err)
	}
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("host %s gained entries %v: the runtime wrote outside the rootfs", dir, names)
	}
	if m := hostMountsUnder(t, dir); len(m) != 0 {
		t.Errorf("host mount table has %v: a container mount landed outside the rootfs", m)
	}
}

// hostMountsUnder lists the test process's (host) mounts at or below dir.
func hostMountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// symlinkInRootfs replaces rootfs/name (whatever it is) with a symlink to target.
func symlinkInRootfs(t *testing.T, b *bundle.Bundle, name, target string) {
	t.Helper()
	p := filepath.Join(b.Rootfs, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// mustFailCreate runs create and requires it to fail cleanly: a non-zero exit
// that is not a crash, and (for ocirun, whose wording we own) an error that
// mentions each of want.
func mustFailCreate(t *testing.T, b *bundle.Bundle, want ...string) bundle.Result {
	t.Helper()
	r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("create of a hostile bundle succeeded: %v", r)
	}
	assertNoCrash(t, r)
	if bundle.IsOcirun(t) {
		for _, w := range want {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("create error does not mention %q:\n%s", w, r.Stderr)
			}
		}
	}
	return r
}

// assertNoCrash fails t if the runtime died from a signal or a Go panic.
func assertNoCrash(t *testing.T, r bundle.Result) {
	t.Helper()
	// 128+N is a death by signal N (Result's convention); 255 is an ordinary failure.
	if (r.Code > 128 && r.Code <= 128+64) || strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("runtime crashed: %v", r)
	}
}

// runWithFiles runs the runtime like Bundle.Run, but with extra open fds
// (3, 4, ... in order) that it inherits without close-on-exec, as a careless
// caller would leak them (CVE-2024-21626).
func runWithFiles(t *testing.T, b *bundle.Bundle, files []*os.File, args ...string) bundle.Result {
	t.Helper()
	full := append([]string{"--root", b.Root}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), bundle.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bundle.Runtime(t), full...)
	cmd.Dir = b.Dir
	cmd.ExtraFiles = files
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := bundle.Result{Args: full}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("%s: timed out", strings.Join(full, " "))
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("%s: %v", strings.Join(full, " "), err)
	}
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	return res
}

// readHostFile returns the content of a host file, for before/after comparisons
// of kernel knobs a hostile bundle aims at.
func readHostFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
