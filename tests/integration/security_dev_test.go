package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const corePattern = "/proc/sys/kernel/core_pattern"

// assertCorePatternKept checks the host's core_pattern against its value
// before the test: every hostile /dev in this file aims at it.
func assertCorePatternKept(t *testing.T, before string) {
	t.Helper()
	if after := readHostFile(t, corePattern); after != before {
		t.Errorf("host %s changed: %q -> %q", corePattern, before, after)
	}
}

// devMounts are the default spec's mounts under /dev that sit on its tmpfs.
var devMounts = []string{"/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"}

// TestSecurityCVE2025_31133_DevNullSymlink: CVE-2025-31133: the bundle
// bind-mounts a /dev whose null is a symlink to core_pattern; masking a path
// "with /dev/null" would then bind core_pattern writable into the container.
// Create must fail naming /dev/null.
func TestSecurityCVE2025_31133_DevNullSymlink(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		// Seen here: runc 1.1.5 mounted /proc/sys/kernel/hostname over
		// /proc/keys. Not run, so as not to hand a container a writable knob.
		t.Skip("runc 1.1.5 is vulnerable to CVE-2025-31133 (masks through a symlinked /dev/null)")
	}
	before := readHostFile(t, corePattern)
	devDir := t.TempDir()
	if err := os.Symlink(corePattern, filepath.Join(devDir, "null")); err != nil {
		t.Fatal(err)
	}
	b := bundle.New(t,
		withoutMounts(devMounts...),
		withMount(specs.Mount{Destination: "/dev", Type: "bind", Source: devDir, Options: []string{"rbind"}}),
		bundle.WithSpec(func(s *specs.Spec) {
			// A masked file, so /dev/null is needed; /proc/kcore may be absent.
			s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/sysrq-trigger", "/proc/kmsg")
		}),
	)
	mustFailCreate(t, b, "/dev/null")
	assertCorePatternKept(t, before)
	if link, err := os.Readlink(filepath.Join(devDir, "null")); err != nil || link != corePattern {
		t.Errorf("host %s/null = %q, %v: the runtime changed the bound /dev", devDir, link, err)
	}
}

// TestSecurityCVE2025_52565_ConsoleSymlink: CVE-2025-52565: with terminal: true
// the pty slave is bind-mounted on /dev/console; an image whose /dev/console is
// a symlink to core_pattern must not redirect that mount. Inside, /dev/console
// is the devpts slave (major 136), or create fails; core_pattern keeps its
// value.
func TestSecurityCVE2025_52565_ConsoleSymlink(t *testing.T) {
	t.Parallel()
	before := readHostFile(t, corePattern)
	// A bound /dev whose ptmx, too, points at core_pattern.
	boundDev := t.TempDir()
	for _, name := range []string{"console", "ptmx"} {
		if err := os.Symlink(corePattern, filepath.Join(boundDev, name)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		opts     []bundle.Option
		runcVuln bool
	}{
		// The image's /dev is hidden by the /dev tmpfs: the runtime's own /dev/console.
		{"dev tmpfs", nil, false},
		// No /dev tmpfs: the image's /dev, symlink included, is what the runtime sees.
		{"image dev", []bundle.Option{withoutMounts("/dev", "/dev/shm", "/dev/mqueue")}, true},
		{"bound dev", []bundle.Option{withoutMounts("/dev", "/dev/shm", "/dev/mqueue"),
			withMount(specs.Mount{Destination: "/dev", Type: "bind", Source: boundDev, Options: []string{"rbind"}}),
			// The bound /dev has no null: nothing to mask with.
			bundle.WithSpec(func(s *specs.Spec) { s.Linux.MaskedPaths = nil }),
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.runcVuln && bundle.IsRunc(t) {
				t.Skip("runc 1.1.5 is vulnerable to CVE-2025-52565 (fixed in runc 1.2.8): it mounts the console through the image's symlink")
			}
			cs := newConsoleSocket(t)
			opts := append([]bundle.Option{
				bundle.WithProbe("report", "--stat", "/dev/console"),
				bundle.WithSpec(func(s *specs.Spec) { s.Process.Terminal = true }),
			}, tc.opts...)
			b := bundle.New(t, opts...)
			symlinkInRootfs(t, b, "dev/console", corePattern)
			r := b.Run(t, "create", "--console-socket", cs.path, "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			if r.Code != 0 {
				t.Logf("create refused the hostile /dev: %s", strings.TrimSpace(r.Stderr))
				assertCorePatternKept(t, before)
				return
			}
			master := cs.recv(t)
			b.Start(t)
			out := readPTY(t, master, 10*time.Second)
			rep := bundle.ParseReport(t, strings.ReplaceAll(out, "\r\n", "\n"))
			st := rep.Stat["/dev/console"]
			if st.Type != "char" || st.Major != 136 {
				t.Errorf("/dev/console inside = %+v, want the devpts slave (char, major 136)", st)
			}
			assertCorePatternKept(t, before)
		})
	}
}

// TestSecurityCVE2026_41579_DevSymlink: CVE-2026-41579: an image whose /dev is
// a symlink to a host directory, with no /dev tmpfs over it. Setting up /dev
// (nodes, ptmx, fd links, devpts) must happen inside the rootfs: the host
// directory stays empty. When the link's target also exists inside the rootfs
// the container starts and its /dev is built there; when it dangles create may
// fail.
func TestSecurityCVE2026_41579_DevSymlink(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 is vulnerable to CVE-2026-41579: it creates the /dev symlinks (fd, ptmx, stdin...) in the host directory")
	}
	victim := victimDir(t)
	for _, target := range []string{victim, escape(victim)} {
		for _, existsInside := range []bool{false, true} {
			// No mounts under /dev: the first to touch it is the /dev setup itself.
			b := bundle.New(t, withoutMounts(devMounts...), bundle.WithProbe("exit", "0"))
			symlinkInRootfs(t, b, "dev", target)
			inside := filepath.Join(b.Rootfs, victim)
			if existsInside {
				if err := os.MkdirAll(inside, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			assertUntouched(t, victim)
			if !existsInside {
				t.Logf("dev -> %s (dangling in the rootfs): run exit %d %s", target, r.Code, strings.TrimSpace(r.Stderr))
				continue
			}
			if r.Code != 0 {
				t.Errorf("dev -> %s (existing in the rootfs): %v", target, r)
				continue
			}
			// Proof that /dev setup ran, in the rootfs's copy of the target.
			if _, err := os.Lstat(filepath.Join(inside, "ptmx")); err != nil {
				t.Errorf("dev -> %s: no ptmx where the link resolves inside the rootfs: %v", target, err)
			}
		}
	}
}
