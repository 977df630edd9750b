package integration

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// withMount appends a mount to the spec.
func withMount(m specs.Mount) bundle.Option {
	return bundle.WithSpec(func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) })
}

// withoutMounts drops the spec's mounts at the given destinations.
func withoutMounts(dests ...string) bundle.Option {
	return bundle.WithSpec(func(s *specs.Spec) {
		var keep []specs.Mount
		for _, m := range s.Mounts {
			drop := false
			for _, d := range dests {
				drop = drop || m.Destination == d
			}
			if !drop {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	})
}

// escape is a relative symlink target that climbs far above any rootfs and
// then names the host path: resolved on the host it is the host path itself.
func escape(hostPath string) string {
	return strings.Repeat("../", 24) + strings.TrimPrefix(hostPath, "/")
}

// TestSecurityCVE2019_16884_MountOverProc: CVE-2019-16884: something other than
// procfs on /proc (or over the LSM attribute files inside it) would make the
// runtime's label writes land in a dummy file. Every such mount must make
// create fail.
func TestSecurityCVE2019_16884_MountOverProc(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	hostFile := filepath.Join(hostDir, "exec")
	if err := os.WriteFile(hostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opts []bundle.Option
	}{
		{"tmpfs on /proc", []bundle.Option{withoutMounts("/proc"),
			withMount(specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"})}},
		{"bind of a host dir on /proc", []bundle.Option{withoutMounts("/proc"),
			withMount(specs.Mount{Destination: "/proc", Type: "bind", Source: hostDir, Options: []string{"rbind"}})}},
		{"bind on /proc/self/attr/apparmor/exec", []bundle.Option{
			withMount(specs.Mount{Destination: "/proc/self/attr/apparmor/exec", Type: "bind", Source: hostFile, Options: []string{"bind"}})}},
		{"bind on /proc/self/attr/exec", []bundle.Option{
			withMount(specs.Mount{Destination: "/proc/self/attr/exec", Type: "bind", Source: hostFile, Options: []string{"bind"}})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, tc.opts...)
			mustFailCreate(t, b, "/proc")
		})
	}
}

// TestSecurityCVE2019_19921_SymlinkedProcSys: CVE-2019-19921 (and 2023-27561,
// 2023-28642): an image whose /proc or /sys is a symlink would get procfs or
// sysfs mounted wherever the link points. Both must make create fail.
func TestSecurityCVE2019_19921_SymlinkedProcSys(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"proc", "sys"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t)
			if err := os.Mkdir(filepath.Join(b.Rootfs, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			symlinkInRootfs(t, b, dir, "/x")
			mustFailCreate(t, b, dir)
		})
	}
}

// TestSecurityCVE2021_30465_SymlinkDestination: CVE-2021-30465 (a): a mount
// destination below a symlink that escapes the rootfs is resolved inside the
// rootfs; the host directory it names stays empty. When the link's target
// exists inside the rootfs the mounts land there; when it dangles the runtime
// may refuse.
func TestSecurityCVE2021_30465_SymlinkDestination(t *testing.T) {
	t.Parallel()
	victim := victimDir(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, existsInside := range []bool{false, true} {
		b := bundle.New(t,
			withMount(specs.Mount{Destination: "/m/x", Type: "tmpfs", Source: "tmpfs"}),
			withMount(specs.Mount{Destination: "/m/y/z", Type: "bind", Source: src, Options: []string{"rbind"}}),
			withMount(specs.Mount{Destination: "/m/file", Type: "bind", Source: filepath.Join(src, "f"), Options: []string{"bind"}}),
		)
		symlinkInRootfs(t, b, "m", escape(victim))
		if existsInside {
			if err := os.MkdirAll(filepath.Join(b.Rootfs, victim), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		assertNoCrash(t, r)
		assertUntouched(t, victim)
		if !existsInside {
			t.Logf("dangling in the rootfs: run exit %d %s", r.Code, strings.TrimSpace(r.Stderr))
			continue
		}
		if r.Code != 0 {
			t.Errorf("target existing in the rootfs: %v", r)
			continue
		}
		rep := bundle.ParseReport(t, r.Stdout)
		for _, mp := range []string{victim + "/x", victim + "/y/z", victim + "/file"} {
			if rep.Mount(mp) == nil {
				t.Errorf("no mount at %s inside the container, where /m resolves in the rootfs", mp)
			}
		}
	}
}

// renameExchanger swaps two paths with renameat2(RENAME_EXCHANGE) until stopped,
// the TOCTOU racer of CVE-2021-30465 and CVE-2024-45310.
type renameExchanger struct {
	stop  atomic.Bool
	wg    sync.WaitGroup
	swaps atomic.Int64
}

func startExchanger(t *testing.T, a, b string) *renameExchanger {
	t.Helper()
	x := &renameExchanger{}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		for !x.stop.Load() {
			if unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE) == nil {
				x.swaps.Add(1)
			}
		}
	}()
	t.Cleanup(x.halt)
	return x
}

func (x *renameExchanger) halt() {
	x.stop.Store(true)
	x.wg.Wait()
}

// raceRuns runs the bundle's container (a probe report) repeatedly while a
// racer flips the rootfs, checking after every run that no mount reached the
// victim and, unless mountsOnly, that nothing was created in it. A run that
// succeeds must see a mount ending in each of wantMounts inside its root: one
// that landed anywhere else would be missing there (and, outside the host's
// view, hidden by pivot_root).
func raceRuns(t *testing.T, b *bundle.Bundle, victim string, iterations int, budget time.Duration, mountsOnly bool, wantMounts ...string) {
	t.Helper()
	deadline := time.Now().Add(budget)
	ok, failed := 0, 0
	for i := 0; i < iterations && time.Now().Before(deadline); i++ {
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		assertNoCrash(t, r)
		if r.Code == 0 {
			ok++
			rep := bundle.ParseReport(t, r.Stdout)
			for _, suffix := range wantMounts {
				found := false
				for _, m := range rep.Mounts {
					found = found || strings.HasSuffix(m.Mountpoint, suffix)
				}
				if !found {
					t.Errorf("iteration %d: run succeeded without a mount at */%s inside: it landed elsewhere", i, strings.TrimPrefix(suffix, "/"))
				}
			}
		} else {
			failed++
			// A failed run must leave nothing; if it did, the next would fail on
			// "exists" and the test would race nothing.
			if _, err := os.Lstat(filepath.Join(b.Root, b.ID)); err == nil {
				t.Fatalf("failed run left its state dir behind: %v", r)
			}
		}
		if m := hostMountsUnder(t, victim); len(m) != 0 {
			t.Fatalf("iteration %d: host mount table has %v", i, m)
		}
		if ents, _ := os.ReadDir(victim); len(ents) != 0 {
			if !mountsOnly {
				t.Fatalf("iteration %d: host %s gained %d entries", i, victim, len(ents))
			}
			t.Logf("iteration %d: host %s gained %d entries (known vulnerability, not asserted)", i, victim, len(ents))
			emptyDir(t, victim)
		}
	}
	t.Logf("%d runs succeeded, %d failed under the race", ok, failed)
	// Under software emulation (the cgroup v2 VM) a handful of runs is all
	// the budget allows; the host run is the one that exercises the race.
	if ok+failed < iterations && os.Getenv("OCIRUN_IN_VM") == "" {
		t.Errorf("only %d of %d runs within %v: the race was not exercised enough", ok+failed, iterations, budget)
	}
}

// TestSecurityCVE2021_30465_RenameExchangeRace: CVE-2021-30465 (b): while
// containers are created over and over, a racer exchanges a mount destination's
// parent directory with a symlink to a host directory. No mount may ever appear
// outside the rootfs, and the host directory stays empty.
func TestSecurityCVE2021_30465_RenameExchangeRace(t *testing.T) {
	t.Parallel()
	victim := victimDir(t)
	src := t.TempDir()
	b := bundle.New(t,
		withMount(specs.Mount{Destination: "/d/x", Type: "tmpfs", Source: "tmpfs"}),
		withMount(specs.Mount{Destination: "/d/y", Type: "bind", Source: src, Options: []string{"rbind"}}),
	)
	for _, d := range []string{"d/x", "d/y"} {
		if err := os.MkdirAll(filepath.Join(b.Rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlinkInRootfs(t, b, "l", escape(victim))
	x := startExchanger(t, filepath.Join(b.Rootfs, "d"), filepath.Join(b.Rootfs, "l"))
	// runc 1.1.5 mounts through its fd-checked path (its 2021-30465 fix) but
	// still creates the missing mountpoint directory by path: under the race its
	// mkdir lands in the host dir. That is CVE-2024-45310, fixed in runc 1.1.14,
	// so for runc only the "no mount outside" half is asserted.
	// 1000 container starts against the swapper (issue: rootfs safety). The
	// window is generous: it runs beside the rest of the suite on 2 CPUs,
	// and a busy machine must not turn "not enough runs" into a failure; the
	// count, which is what exercises the race, stays 1000.
	raceRuns(t, b, victim, 1000, 300*time.Second, bundle.IsRunc(t), "/x", "/y")
	x.halt()
	t.Logf("%d exchanges", x.swaps.Load())
}

// TestSecurityCVE2024_45310_CreateThroughSymlink: CVE-2024-45310: creating a
// mount destination (directories and a file) below `a -> /../../../<host dir>`
// while a racer flips `a` between that symlink and a real directory must never
// create anything in the host directory.
func TestSecurityCVE2024_45310_CreateThroughSymlink(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 is vulnerable to CVE-2024-45310 (fixed in runc 1.1.14): its mkdir follows the swapped symlink")
	}
	victim := victimDir(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bundle.New(t,
		withMount(specs.Mount{Destination: "/a/b/c", Type: "tmpfs", Source: "tmpfs"}),
		withMount(specs.Mount{Destination: "/a/file", Type: "bind", Source: filepath.Join(src, "f"), Options: []string{"bind"}}),
	)
	symlinkInRootfs(t, b, "a", "/../../.."+victim)
	if err := os.Mkdir(filepath.Join(b.Rootfs, "a2"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Without the racer first: the plain symlink.
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	assertNoCrash(t, r)
	assertUntouched(t, victim)

	x := startExchanger(t, filepath.Join(b.Rootfs, "a"), filepath.Join(b.Rootfs, "a2"))
	raceRuns(t, b, victim, 100, 60*time.Second, false, "/b/c", "/file")
	x.halt()
}

// TestSecurityCVE2025_52881_ProcDestAndSysctls: CVE-2025-52881: a mount inside
// /proc (outside the lxcfs allowlist) could redirect the runtime's own procfs
// writes, so it is refused. The sysctls the config asks for are what the
// container sees, and the host's stay as they were.
func TestSecurityCVE2025_52881_ProcDestAndSysctls(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	t.Run("mount inside /proc", func(t *testing.T) {
		t.Parallel()
		for _, dest := range []string{"/proc/sys", "/proc/sys/kernel", "/proc/self/attr", "/proc/1/attr"} {
			b := bundle.New(t, withMount(specs.Mount{Destination: dest, Type: "bind", Source: hostDir, Options: []string{"rbind"}}))
			mustFailCreate(t, b, dest)
		}
	})
	t.Run("sysctls", func(t *testing.T) {
		t.Parallel()
		hostShmmax := readHostFile(t, "/proc/sys/kernel/shmmax")
		hostHostname := readHostFile(t, "/proc/sys/kernel/hostname")
		b := bundle.New(t,
			bundle.WithProbe("report", "--cat", "/proc/sys/kernel/shmmax", "--cat", "/proc/sys/net/ipv4/ip_forward"),
			bundle.WithSpec(func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{"kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1"}
			}))
		rep := b.Report(t)
		for path, want := range map[string]string{"/proc/sys/kernel/shmmax": "123456789", "/proc/sys/net/ipv4/ip_forward": "1"} {
			if got := strings.TrimSpace(rep.Cat[path]); got != want {
				t.Errorf("%s inside = %q, want %q (linux.sysctl)", path, got, want)
			}
		}
		if got := readHostFile(t, "/proc/sys/kernel/shmmax"); got != hostShmmax {
			t.Errorf("host kernel.shmmax changed: %q -> %q", hostShmmax, got)
		}
		if got := readHostFile(t, "/proc/sys/kernel/hostname"); got != hostHostname {
			t.Errorf("host hostname changed: %q -> %q", hostHostname, got)
		}
	})
}

// emptyDir removes what a known-vulnerable runtime created in a victim dir,
// so the remaining checks still see new damage.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}
