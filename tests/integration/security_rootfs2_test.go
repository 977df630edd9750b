package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The second round of rootfs rules, beyond the CVE classes: a
// mount may not cover the root, device nodes are set up through fds, and a
// read-only rbind is read-only all the way down.

// TestSecurityMountOnRootfsSymlink: an image ships `data -> /` (or a relative
// climb to the same place) and the bundle puts a volume at /data. Stacked over
// the root, the volume would become the container's / at pivot_root, with
// /proc, /sys, /dev and the masks left below it. ocirun refuses the mount
// (runc's wording, then the JSON path of the destination); any runtime that
// starts the container must show it the rootfs as /.
func TestSecurityMountOnRootfsSymlink(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, link string
		mount      func(vol string) specs.Mount
	}{
		{"bind at data -> /", "/", func(vol string) specs.Mount {
			return specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind"}}
		}},
		{"bind at data -> ../../..", "../../..", func(vol string) specs.Mount {
			return specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind"}}
		}},
		{"tmpfs at data -> /", "/", func(string) specs.Mount {
			return specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vol := t.TempDir()
			b := bundle.New(t, withMount(tc.mount(vol)),
				bundle.WithProbe("report", "--stat", "/rootfs-marker", "--stat", "/volume-marker"))
			// The volume can run the probe too, so a runtime that pivots into
			// it shows that in the report instead of failing to exec.
			if err := os.MkdirAll(filepath.Join(vol, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			probe, err := os.ReadFile(filepath.Join(b.Rootfs, "bin", "probe"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(vol, "bin", "probe"), probe, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{filepath.Join(vol, "volume-marker"), filepath.Join(b.Rootfs, "rootfs-marker")} {
				if err := os.WriteFile(f, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			symlinkInRootfs(t, b, "data", tc.link)
			idx := len(b.Spec.Mounts) - 1
			r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			if r.Code != 0 {
				t.Logf("refused: %s", strings.TrimSpace(r.Stderr))
				if bundle.IsOcirun(t) {
					for _, w := range []string{"is on the top of rootfs", fmt.Sprintf("mounts[%d].destination %q", idx, "/data")} {
						if !strings.Contains(r.Stderr, w) {
							t.Errorf("error does not mention %q:\n%s", w, r.Stderr)
						}
					}
				}
				return
			}
			if bundle.IsOcirun(t) {
				t.Errorf("run succeeded: a destination resolving to the root must be refused")
			}
			rep := bundle.ParseReport(t, r.Stdout)
			if st := rep.Stat["/rootfs-marker"]; !st.Exists {
				t.Errorf("/rootfs-marker = %+v: the container's / is not the rootfs", st)
			}
			if st := rep.Stat["/volume-marker"]; st.Exists {
				t.Errorf("/volume-marker is at / (%+v): the volume was stacked over the root", st)
			}
			if m := rep.Mount("/proc"); m == nil || m.FSType != "proc" {
				t.Errorf("/proc inside = %+v, want procfs: mounts made below the volume were left behind", m)
			}
		})
	}
}

// TestSecurityDeviceNodeSymlinkSwap: device nodes in a directory the host
// writes to (here a host dir bound at /dev/vol) are created before pivot_root,
// on the host's paths. A racer on the host replaces each new node with a
// symlink to a host file the moment it appears: a chmod or chown by name after
// mknodat would follow it. Over many creates the host file's mode and owner
// never change; the runtime may refuse (it found something other than its node)
// or finish with its own nodes.
func TestSecurityDeviceNodeSymlinkSwap(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 is vulnerable: it chowns the new node by path, following the swapped-in symlink")
	}
	const nodes, attempts = 32, 25
	vol := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("host file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spares := t.TempDir() // the racer's symlinks wait here, on vol's filesystem
	uid, gid, mode := uint32(4242), uint32(4242), os.FileMode(0o666)
	var devs []specs.LinuxDevice
	for i := range nodes {
		devs = append(devs, specs.LinuxDevice{Path: fmt.Sprintf("/dev/vol/n%d", i), Type: "c", Major: 1, Minor: 3,
			FileMode: &mode, UID: &uid, GID: &gid})
	}
	b := bundle.New(t, withMount(specs.Mount{Destination: "/dev/vol", Type: "bind", Source: vol, Options: []string{"rbind"}}),
		bundle.WithSpec(func(s *specs.Spec) { s.Linux.Devices = devs }),
		bundle.WithProbe("exit", "0"))
	hits, refused := 0, 0
	for a := range attempts {
		emptyDir(t, vol)
		r := newNodeSwapper(t, vol, spares, victim, nodes)
		res := b.Run(t, "create", "--bundle", b.Dir, b.ID)
		hits += r.stop()
		assertNoCrash(t, res)
		if res.Code == 0 {
			b.MustRun(t, "delete", "--force", b.ID)
		} else {
			if refused == 0 {
				t.Logf("first refusal: %s", strings.TrimSpace(res.Stderr))
			}
			refused++
		}
		var st unix.Stat_t
		if err := unix.Stat(victim, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != 0o600 || st.Uid != 0 || st.Gid != 0 {
			t.Fatalf("attempt %d: host %s is now mode %o owner %d:%d (was 600 0:0): the runtime changed it through a swapped-in symlink",
				a, victim, st.Mode&0o7777, st.Uid, st.Gid)
		}
	}
	t.Logf("%d attempts, %d refused, %d nodes swapped for a symlink", attempts, refused, hits)
	if hits == 0 {
		t.Errorf("the racer never swapped a node: the race was not exercised")
	}
}

// nodeSwapper follows the runtime through n0, n1, ... in vol: as soon as nK is
// a device node, a symlink to victim is renamed over it.
type nodeSwapper struct {
	quit atomic.Bool
	done chan int
}

func newNodeSwapper(t *testing.T, vol, spares, victim string, nodes int) *nodeSwapper {
	t.Helper()
	for i := range nodes {
		p := filepath.Join(spares, fmt.Sprintf("n%d", i))
		_ = os.Remove(p)
		if err := os.Symlink(victim, p); err != nil {
			t.Fatal(err)
		}
	}
	s := &nodeSwapper{done: make(chan int, 1)}
	go func() {
		swapped := 0
		for k := 0; k < nodes && !s.quit.Load(); {
			name := filepath.Join(vol, fmt.Sprintf("n%d", k))
			var st unix.Stat_t
			if unix.Lstat(name, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
				continue
			}
			if unix.Rename(filepath.Join(spares, fmt.Sprintf("n%d", k)), name) == nil {
				swapped++
			}
			k++
		}
		s.done <- swapped
	}()
	return s
}

func (s *nodeSwapper) stop() int {
	s.quit.Store(true)
	return <-s.done
}

// TestSecurityRootlessSysBindCgroupMkdir: `spec --rootless` binds the host's
// /sys "rbind,ro" (runc writes the same). Under mount(2)'s rules only the top
// of that tree is read-only: the cgroup hierarchies below /sys/fs/cgroup stay
// writable, and the container's root makes cgroups on the host. As root here,
// with that /sys mount and no cgroup mount of the container's own over
// /sys/fs/cgroup, a mkdir in every host hierarchy that is read-write on the
// host must fail. A cgroup made anyway has a name of this test's own and is
// removed at cleanup.
func TestSecurityRootlessSysBindCgroupMkdir(t *testing.T) {
	t.Parallel()
	sys := rootlessSysMount(t)
	hier := writableHostCgroups(t)
	if len(hier) == 0 {
		t.Skip("no cgroup hierarchy under the host's /sys/fs/cgroup is mounted read-write: the bind cannot expose one")
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	name := "ocirun-sec-rootfs2-" + hex.EncodeToString(r[:])
	t.Cleanup(func() {
		for _, h := range hier {
			if err := unix.Rmdir(filepath.Join(h, name)); err != nil && !errors.Is(err, unix.ENOENT) {
				t.Errorf("remove the test's cgroup %s: %v", filepath.Join(h, name), err)
			}
		}
	})
	var script strings.Builder
	for _, h := range hier {
		fmt.Fprintf(&script, "if /bin/busybox mkdir %s/%s; then echo created %s; fi; ", h, name, h)
	}
	b := bundle.New(t, withoutMounts("/sys", "/sys/fs/cgroup"), withMount(sys),
		bundle.WithArgs("/bin/sh", "-c", script.String()),
		// A root cgroup directory is 0555: root with CAP_DAC_OVERRIDE, as
		// docker's default capabilities give it, may make cgroups there.
		bundle.WithSpec(func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_DAC_OVERRIDE")
			c.Effective = append(c.Effective, "CAP_DAC_OVERRIDE")
			c.Permitted = append(c.Permitted, "CAP_DAC_OVERRIDE")
		}))
	res := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	assertNoCrash(t, res)
	if res.Code != 0 {
		t.Fatalf("run: %v", res)
	}
	for _, h := range hier {
		if _, err := os.Lstat(filepath.Join(h, name)); err == nil {
			t.Errorf("the container made the cgroup %s on the host through /sys %v", filepath.Join(h, name), sys.Options)
		}
	}
	if strings.Contains(res.Stdout, "created") {
		t.Errorf("mkdir under /sys/fs/cgroup succeeded inside:\n%s", res.Stdout)
	}
	if n := strings.Count(res.Stderr, "Read-only file system"); n != len(hier) {
		t.Errorf("%d of %d mkdirs failed with EROFS:\n%s", n, len(hier), res.Stderr)
	}
}

// rootlessSysMount is the /sys entry `spec --rootless` of the runtime under test writes.
func rootlessSysMount(t *testing.T) specs.Mount {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command(bundle.Runtime(t), "spec", "--rootless", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("spec --rootless: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/sys" {
			return m
		}
	}
	t.Fatalf("spec --rootless has no /sys mount: %s", data)
	return specs.Mount{}
}

// writableHostCgroups lists the host's cgroup and cgroup2 mounts at or below
// /sys/fs/cgroup that are read-write, which a bind of /sys would expose.
func writableHostCgroups(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		a, p := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 6 || len(p) < 1 || (p[0] != "cgroup" && p[0] != "cgroup2") {
			continue
		}
		mp := a[4]
		if mp != "/sys/fs/cgroup" && !strings.HasPrefix(mp, "/sys/fs/cgroup/") {
			continue
		}
		if slices.Contains(strings.Split(a[5], ","), "rw") {
			out = append(out, mp)
		}
	}
	return out
}
