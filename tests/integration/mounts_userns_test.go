package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const usernsHostID = 100000

// withUserNS maps container ids 0-65535 to host 100000-165535 and hands the
// rootfs to the mapped root, as a userns image would be: the mapped root must
// be able to create mountpoints in it.
func withUserNS(t *testing.T, b *bundle.Bundle) {
	t.Helper()
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsHostID, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsHostID, Size: 65536}}
	})
	// The mapped root is "other" to host-owned dirs: t.TempDir() makes them 0700.
	for _, d := range []string{filepath.Dir(b.Dir), b.Dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.Walk(b.Rootfs, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, usernsHostID, usernsHostID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMountsUserNamespace: in a user namespace mknod is refused, so the
// default devices are binds of the host's nodes; mountpoints the runtime
// creates belong to the container's root. With its own network namespace the
// container mounts a sysfs of its own; without one it gets the host's /sys,
// read-only throughout.
func TestMountsUserNamespace(t *testing.T) {
	t.Parallel()
	host := hostMountAt(t, "/sys")
	for _, netns := range []bool{true, false} {
		t.Run("netns="+strconv.FormatBool(netns), func(t *testing.T) {
			t.Parallel()
			if !netns && bundle.IsRunc(t) {
				t.Skip("runc 1.1.5 mounts a new sysfs even without a network namespace, which a user namespace is refused (EPERM)")
			}
			hostDir := t.TempDir()
			if err := os.Chmod(hostDir, 0o755); err != nil {
				t.Fatal(err)
			}
			b := bundle.New(t, probeArgs([]string{"/dev/null", "/dev/zero", "/new/dir"}, nil),
				withMount(specs.Mount{Destination: "/new/dir/bound", Type: "bind", Source: hostDir, Options: []string{"rbind"}}),
				bundle.WithSpec(func(s *specs.Spec) {
					if !netns {
						s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, specs.NetworkNamespace)
					}
				}))
			withUserNS(t, b)
			rep := b.Report(t)
			for _, d := range []struct {
				path  string
				minor uint32
			}{{"/dev/null", 3}, {"/dev/zero", 5}} {
				if st := rep.Stat[d.path]; st.Type != "char" || st.Major != 1 || st.Minor != d.minor {
					t.Errorf("%s: %+v, want char 1:%d", d.path, st, d.minor)
				}
				mountAt(t, rep, d.path) // a bind of the host's node, not a mknod
			}
			if st, err := os.Stat(filepath.Join(b.Rootfs, "new", "dir")); err != nil {
				t.Errorf("created mountpoint parent: %v", err)
			} else if uid, gid := statOwner(st); uid != usernsHostID || gid != usernsHostID {
				t.Errorf("created %s owned by %d:%d on the host, want the container's root %d", "/new/dir", uid, gid, usernsHostID)
			}
			sys := rep.Mount("/sys")
			for i := range rep.Mounts {
				if rep.Mounts[i].Mountpoint == "/sys" {
					sys = &rep.Mounts[i] // the lowest: the sysfs itself, not a mount stacked on it
					break
				}
			}
			if sys == nil || sys.FSType != "sysfs" {
				t.Fatalf("/sys: %+v, want sysfs", sys)
			}
			if host != nil {
				same := strconv.Itoa(sys.Major)+":"+strconv.Itoa(sys.Minor) == host.devID
				if netns == same {
					t.Errorf("/sys is sysfs %d:%d, host %s: with netns=%v want a sysfs of its own only with a netns", sys.Major, sys.Minor, host.devID, netns)
				}
			}
			checkOpts(t, sys, []string{"ro"}, nil)
		})
	}
}

// statOwner returns the uid and gid of a host file.
func statOwner(st os.FileInfo) (uint32, uint32) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Uid, s.Gid
	}
	return ^uint32(0), ^uint32(0)
}

// TestMountMqueueUserNamespaceFallback: a user-namespaced container that
// shares the host's ipc namespace may not mount mqueue (the ipc namespace is
// owned by the host's user namespace): the runtime binds the host's
// /dev/mqueue instead. The runtime runs in a private mount namespace whose
// /dev is an overlay with an mqueue mounted at /dev/mqueue, so the host's
// own /dev is never touched.
func TestMountMqueueUserNamespaceFallback(t *testing.T) {
	t.Parallel()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 has no fallback for a refused mqueue mount: it fails with EPERM")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) is needed to run the runtime in a private mount namespace")
	}
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Namespaces = withoutNS(s.Linux.Namespaces, specs.IPCNamespace)
	}))
	withUserNS(t, b)
	scratch := t.TempDir()
	script := `set -e
mkdir -p "$S/up" "$S/work"
mount -t overlay overlay -o "lowerdir=/dev,upperdir=$S/up,workdir=$S/work" /dev
mkdir -p /dev/mqueue
mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue
exec "$RUNTIME" "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), bundle.CommandTimeout)
	defer cancel()
	args := []string{"-m", "--propagation", "private", "sh", "-c", script, "sh",
		"--root", b.Root, "run", "--bundle", b.Dir, b.ID}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), "S="+scratch, "RUNTIME="+bundle.Runtime(t))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("run in a user namespace without an ipc namespace: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	rep := bundle.ParseReport(t, stdout.String())
	if m := mountAt(t, rep, "/dev/mqueue"); m != nil && m.FSType != "mqueue" {
		t.Errorf("/dev/mqueue: fstype %s, want the host's mqueue bound", m.FSType)
	}
}
