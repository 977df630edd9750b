package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// idmapSource makes a host directory with a file of root's and one of
// 1000:1000, readable by everyone.
func idmapSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for name, id := range map[string]int{"root-file": 0, "user-file": 1000} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, id, id); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// skipRuncIDMap: runc 1.1.5 predates idmapped mounts and ignores the
// options and maps without a word (seen here), which the spec forbids.
func skipRuncIDMap(t *testing.T) {
	t.Helper()
	if bundle.IsRunc(t) {
		t.Skip("runc 1.1.5 silently ignores idmap, ridmap and mount maps (runc 1.2 has them)")
	}
}

func wantOwner(t *testing.T, rep *report.Report, path string, uid, gid uint32) {
	t.Helper()
	st := rep.Stat[path]
	if !st.Exists {
		t.Errorf("%s: %+v", path, st)
		return
	}
	if st.UID != uid || st.GID != gid {
		t.Errorf("%s is %d:%d inside, want %d:%d", path, st.UID, st.GID, uid, gid)
	}
}

// TestMountsIDMapped: idmapped bind mounts (mount_setattr MOUNT_ATTR_IDMAP).
// In a container whose ids 0-65535 are host 100000-165535, a plain bind
// shows host files as the overflow id; "idmap" without maps of its own
// takes the container's, so the host's 0 and 1000 are 0 and 1000 inside,
// and what the container's root creates there is root's on the host. A
// mount's own maps apply with or without a user namespace: mapping 0 to
// 100000 shows the host's root files as 100000 to a container without one.
func TestMountsIDMapped(t *testing.T) {
	t.Parallel()
	skipRuncIDMap(t)
	src := idmapSource(t)
	stats := []string{"/plain/root-file", "/plain/user-file", "/mapped/root-file", "/mapped/user-file"}
	mounts := func(extra ...string) bundle.Option {
		return bundle.WithSpec(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/plain", Type: "bind", Source: src, Options: []string{"bind"}},
				specs.Mount{Destination: "/mapped", Type: "bind", Source: src, Options: append([]string{"bind"}, extra...)})
		})
	}

	t.Run("container's user namespace", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, mounts("idmap"), bundle.WithArgs("/bin/sh", "-c",
			"touch /mapped/made-inside && exec /bin/probe report --stat "+strings.Join(stats, " --stat ")))
		withUserNS(t, b)
		rep := b.Report(t)
		wantOwner(t, rep, "/plain/root-file", 65534, 65534)
		wantOwner(t, rep, "/plain/user-file", 65534, 65534)
		wantOwner(t, rep, "/mapped/root-file", 0, 0)
		wantOwner(t, rep, "/mapped/user-file", 1000, 1000)
		st, err := os.Stat(filepath.Join(src, "made-inside"))
		if err != nil {
			t.Fatal(err)
		}
		if uid, gid := statOwner(st); uid != 0 || gid != 0 {
			t.Errorf("a file the container's root made through the idmapped mount is %d:%d on the host, want 0:0", uid, gid)
		}
		if m := rep.Mount("/mapped"); m == nil || !m.HasOption("idmapped") {
			t.Errorf("/mapped: %+v, want the idmapped option in mountinfo", m)
		}
	})

	t.Run("own maps, no user namespace", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, probeArgs(stats, nil), mounts("idmap"), bundle.WithSpec(func(s *specs.Spec) {
			m := &s.Mounts[len(s.Mounts)-1]
			m.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			m.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		}))
		rep := b.Report(t)
		wantOwner(t, rep, "/plain/root-file", 0, 0)
		wantOwner(t, rep, "/mapped/root-file", 100000, 200000)
		wantOwner(t, rep, "/mapped/user-file", 101000, 201000)
	})

	// Maps of its own in a container with a user namespace: the mount's
	// 0-65535 are host 101000-166535, the container's 1000-66535.
	t.Run("own maps in a user namespace", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, probeArgs(stats, nil), mounts("idmap"), bundle.WithSpec(func(s *specs.Spec) {
			m := &s.Mounts[len(s.Mounts)-1]
			m.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsHostID + 1000, Size: 1000}}
			m.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: usernsHostID + 2000, Size: 2000}}
		}))
		withUserNS(t, b)
		rep := b.Report(t)
		wantOwner(t, rep, "/mapped/root-file", 1000, 2000)
		// 1000 is past the mount's uid range (1000 ids), inside its gid range.
		wantOwner(t, rep, "/mapped/user-file", 65534, 3000)
	})
}

// TestMountsIDMappedRecursive: "ridmap" maps the submounts of an rbind too,
// "idmap" only its top. The submount is a tmpfs made under the source in a
// private mount namespace the runtime runs in, so it never reaches the host.
func TestMountsIDMappedRecursive(t *testing.T) {
	t.Parallel()
	skipRuncIDMap(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) is needed to run the runtime in a private mount namespace")
	}
	for _, opt := range []string{"idmap", "ridmap"} {
		t.Run(opt, func(t *testing.T) {
			t.Parallel()
			src := idmapSource(t)
			if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			b := bundle.New(t, probeArgs([]string{"/mapped/root-file", "/mapped/sub/sub-file"}, nil),
				withMount(specs.Mount{Destination: "/mapped", Type: "bind", Source: src, Options: []string{"rbind", opt}}))
			withUserNS(t, b)
			script := `set -e
mount -t tmpfs -o mode=0755 tmpfs "$SRC/sub"
touch "$SRC/sub/sub-file"
exec "$RUNTIME" "$@"`
			out, stderr, err := runInPrivateMountNS(t, script, []string{"SRC=" + src}, "--root", b.Root, "run", "--bundle", b.Dir, b.ID)
			if err != nil {
				if strings.Contains(stderr, "cannot be idmapped") {
					t.Skipf("this kernel's tmpfs cannot be idmapped (Linux 6.3 or later can): %s", stderr)
				}
				t.Fatalf("run: %v\nstdout: %s\nstderr: %s", err, out, stderr)
			}
			rep := bundle.ParseReport(t, out)
			wantOwner(t, rep, "/mapped/root-file", 0, 0)
			if opt == "ridmap" {
				wantOwner(t, rep, "/mapped/sub/sub-file", 0, 0)
			} else {
				wantOwner(t, rep, "/mapped/sub/sub-file", 65534, 65534)
			}
		})
	}
}

// TestMountsIDMappedRefused: a filesystem that cannot be idmapped (sysfs)
// fails the create with an error that says so and leaves nothing behind.
func TestMountsIDMappedRefused(t *testing.T) {
	t.Parallel()
	skipRuncIDMap(t)
	b := bundle.New(t, withMount(specs.Mount{Destination: "/mapped", Type: "bind", Source: "/sys/kernel", Options: []string{"rbind", "idmap"},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}}))
	r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("an idmapped bind of sysfs was made: %v", r)
	}
	if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, `the filesystem of "/sys/kernel" cannot be idmapped`) {
		t.Errorf("error does not say why: %s", r.Stderr)
	}
	b.CheckGone(t)
}

// runInPrivateMountNS runs script with the runtime as $RUNTIME and args as
// "$@", in a private mount namespace of its own (unshare -m).
func runInPrivateMountNS(t *testing.T, script string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bundle.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh"}, args...)...)
	cmd.Env = append(append(os.Environ(), "RUNTIME="+bundle.Runtime(t)), env...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return o.String(), e.String(), err
}
