package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// hostMountsUnder lists this (host-side) namespace's mounts at or below dir.
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

func assertEmptyHostDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("host %s gained entries: %v", dir, ents)
	}
	if m := hostMountsUnder(t, dir); len(m) != 0 {
		t.Errorf("host %s has mounts: %v", dir, m)
	}
}

// TestSymlinkDestinationOutside: CVE-2021-30465 / 2024-45310: a destination
// through a symlink pointing out of the rootfs is resolved inside it; the host
// target stays untouched. When the in-root target exists the mount lands there;
// when it dangles Prepare fails.
func TestSymlinkDestinationOutside(t *testing.T) {
	for _, existsInside := range []bool{true, false} {
		t.Run(fmt.Sprintf("existsInside=%v", existsInside), func(t *testing.T) {
			victim := t.TempDir()
			cfg := minimalConfig(t,
				specMount("tmpfs", "tmpfs", "/m/x"),
				specMount("tmpfs", "tmpfs", "/a/deep/dir"),
				specMount("bind", "/etc/hostname", "/f/file", "bind"),
			)
			rel := strings.Repeat("../", 16) + strings.TrimPrefix(victim, "/")
			for name, target := range map[string]string{"m": rel, "a": victim, "f": victim} {
				if err := os.Symlink(target, filepath.Join(cfg.Rootfs, name)); err != nil {
					t.Fatal(err)
				}
			}
			if existsInside {
				if err := os.MkdirAll(filepath.Join(cfg.Rootfs, victim), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			rep := run(t, scenario{Config: cfg}, 0)
			assertEmptyHostDir(t, victim)
			if !existsInside {
				if rep.Stage != "prepare" {
					t.Errorf("stage %q error %q, want prepare to fail on a dangling in-root symlink", rep.Stage, rep.Error)
				}
				return
			}
			mustSucceed(t, rep)
			for _, mp := range []string{victim + "/x", victim + "/deep/dir", victim + "/file"} {
				if _, ok := findMount(rep, mp); !ok {
					t.Errorf("no mount at %s inside the container: %+v", mp, rep.Mounts)
				}
			}
		})
	}
}

// TestProcSysSymlinkRefused: CVE-2019-19921: procfs or sysfs onto a symlink is
// refused.
func TestProcSysSymlinkRefused(t *testing.T) {
	for _, name := range []string{"proc", "sys"} {
		t.Run(name, func(t *testing.T) {
			target := t.TempDir()
			cfg := defaultConfig(t)
			cfg.Mounts = runcSpecMounts()[:6] // proc .. sysfs, no cgroup
			if err := os.Remove(filepath.Join(cfg.Rootfs, name)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(cfg.Rootfs, name)); err != nil {
				t.Fatal(err)
			}
			rep := run(t, scenario{Config: cfg}, 0)
			if rep.Stage != "prepare" || !strings.Contains(rep.Error, "ordinary directory") {
				t.Errorf("stage %q error %q, want prepare to refuse a symlinked /%s", rep.Stage, rep.Error, name)
			}
			assertEmptyHostDir(t, target)
		})
	}
}

// TestProcDestinations: CVE-2019-16884 / 2025-52881: nothing but procfs on
// /proc, nothing inside it except the lxcfs allowlist.
func TestProcDestinations(t *testing.T) {
	host := t.TempDir()
	uptime := filepath.Join(host, "uptime")
	if err := os.WriteFile(uptime, []byte("1.00 2.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mount   []string // type, source, dest, opts...
		wantErr string
	}{
		{name: "tmpfs on /proc", mount: []string{"tmpfs", "tmpfs", "/proc"}, wantErr: "only procfs"},
		{name: "bind over proc attr", mount: []string{"bind", host, "/proc/self/attr", "bind"}, wantErr: "inside /proc"},
		{name: "tmpfs on /proc/sys", mount: []string{"tmpfs", "tmpfs", "/proc/sys/kernel"}, wantErr: "inside /proc"},
		{name: "dotdot into proc", mount: []string{"tmpfs", "tmpfs", "/etc/../proc/sys"}, wantErr: "inside /proc"},
		{name: "lxcfs uptime allowed", mount: []string{"bind", uptime, "/proc/uptime", "bind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := minimalConfig(t, specMount(tt.mount[0], tt.mount[1], tt.mount[2], tt.mount[3:]...))
			rep := run(t, scenario{Config: cfg, Read: []string{"/proc/uptime"}}, 0)
			if tt.wantErr == "" {
				mustSucceed(t, rep)
				if rep.Reads["/proc/uptime"] != "1.00 2.00\n" {
					t.Errorf("/proc/uptime: %q, want the lxcfs-style file", rep.Reads["/proc/uptime"])
				}
				return
			}
			if rep.Stage != "prepare" || !strings.Contains(rep.Error, tt.wantErr) {
				t.Errorf("stage %q error %q, want prepare error containing %q", rep.Stage, rep.Error, tt.wantErr)
			}
		})
	}
}

// TestSymlinkIntoProcRefused: a symlink in the image leading into /proc is
// judged by where it resolves.
func TestSymlinkIntoProcRefused(t *testing.T) {
	cfg := minimalConfig(t, specMount("tmpfs", "tmpfs", "/p/sys"))
	if err := os.Symlink("/proc", filepath.Join(cfg.Rootfs, "p")); err != nil {
		t.Fatal(err)
	}
	rep := run(t, scenario{Config: cfg}, 0)
	if rep.Stage != "prepare" || !strings.Contains(rep.Error, "inside /proc") {
		t.Errorf("stage %q error %q, want a refusal of /p/sys → /proc/sys", rep.Stage, rep.Error)
	}
}

// TestDevNullSymlinkRefused: CVE-2025-31133: a bind-mounted /dev whose null is
// a symlink to a procfs file must not be used for masking.
func TestDevNullSymlinkRefused(t *testing.T) {
	hostDev := t.TempDir()
	if err := os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(hostDev, "null")); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Fatal(err)
	}
	cfg := minimalConfig(t)
	cfg.Mounts = append(cfg.Mounts[:1], specMount("bind", hostDev, "/dev", "rbind"))
	cfg.MaskedPaths = []string{"/proc/keys", "/proc/timer_list"}
	rep := run(t, scenario{Config: cfg}, 0)
	if rep.Stage != "finalize" || !strings.Contains(rep.Error, "/dev/null is invalid") {
		t.Errorf("stage %q error %q, want finalize to refuse /dev/null", rep.Stage, rep.Error)
	}
	after, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	if string(after) != string(before) {
		t.Errorf("core_pattern changed: %q → %q", before, after)
	}
	if ents, _ := os.ReadDir(hostDev); len(ents) != 1 {
		t.Errorf("host dir bound as /dev changed: %v", ents)
	}
}

// TestDevSymlinkWithoutTmpfs: CVE-2026-41579: an image /dev symlinked outside,
// without a /dev tmpfs: the device nodes and links are made inside the rootfs
// (or not at all when the in-root target is missing), never on the host.
func TestDevSymlinkWithoutTmpfs(t *testing.T) {
	for _, existsInside := range []bool{true, false} {
		t.Run(fmt.Sprintf("existsInside=%v", existsInside), func(t *testing.T) {
			hostDev := t.TempDir()
			cfg := minimalConfig(t)
			cfg.Mounts = cfg.Mounts[:1] // proc only
			if err := os.Remove(filepath.Join(cfg.Rootfs, "dev")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(hostDev, filepath.Join(cfg.Rootfs, "dev")); err != nil {
				t.Fatal(err)
			}
			if existsInside {
				if err := os.MkdirAll(filepath.Join(cfg.Rootfs, hostDev), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			rep := run(t, scenario{Config: cfg, Stat: []string{"/dev/null", "/dev/ptmx"}}, 0)
			assertEmptyHostDir(t, hostDev)
			if !existsInside {
				if rep.Stage != "prepare" {
					t.Errorf("stage %q error %q, want prepare to fail", rep.Stage, rep.Error)
				}
				return
			}
			mustSucceed(t, rep)
			if s := rep.Stats["/dev/null"]; s.Type != "char" || s.Major != 1 || s.Minor != 3 {
				t.Errorf("/dev/null inside: %+v", s)
			}
			if _, err := os.Lstat(filepath.Join(cfg.Rootfs, hostDev, "ptmx")); err != nil {
				t.Errorf("ptmx link not in the rootfs's copy of the path: %v", err)
			}
		})
	}
}

func TestSysctlKeyOutsideProcSys(t *testing.T) {
	for _, k := range []string{"../../etc/passwd", "kernel/../../x", "/kernel/hostname", ""} {
		err := WriteSysctls(map[string]string{k: "1"})
		if err == nil || !strings.Contains(err.Error(), "leaves /proc/sys") {
			t.Errorf("key %q: %v, want a refusal", k, err)
		}
	}
}

// TestSymlinkExchangeRace: CVE-2021-30465 (b): a racer swaps a directory and a
// symlink to a host directory (RENAME_EXCHANGE) while Prepare mounts below it.
// Whatever wins, no mountpoint is created and nothing is mounted at the host
// path.
func TestSymlinkExchangeRace(t *testing.T) {
	if testing.Short() {
		t.Skip("race test is slow")
	}
	victim := t.TempDir()
	cfg := minimalConfig(t)
	for i := range 20 {
		cfg.Mounts = append(cfg.Mounts, specMount("tmpfs", "tmpfs", fmt.Sprintf("/d/x%d", i)))
	}
	d, s := filepath.Join(cfg.Rootfs, "d"), filepath.Join(cfg.Rootfs, "s")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, s); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_ = unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, s, unix.RENAME_EXCHANGE)
			}
		}
	}()
	okRuns := 0
	for range 50 {
		rep := run(t, scenario{Config: cfg, PrePivot: true}, 0)
		if rep.Error == "" {
			okRuns++
		}
		for _, m := range rep.PrePivotMounts {
			if m.Mountpoint == victim || strings.HasPrefix(m.Mountpoint, victim+"/") {
				t.Errorf("mount landed on the host path %s", m.Mountpoint)
			}
		}
	}
	close(stop)
	<-done
	assertEmptyHostDir(t, victim)
	t.Logf("%d/50 runs completed all mounts despite the racer", okRuns)
}
