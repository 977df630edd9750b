package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestUserNamespaceFileOwner: with container ids 0-65535 mapped to host
// 100000-165535, files the container's root and its user 1000 create in a
// volume belong on the host to 100000 and 101000.
func TestUserNamespaceFileOwner(t *testing.T) {
	t.Parallel()
	vol := t.TempDir()
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "touch /vol/by-root && /bin/busybox su -s /bin/sh -c 'touch /vol/by-1000' tester; exec /bin/probe report"),
		withMount(specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"bind"}}),
		bundle.WithSpec(func(s *specs.Spec) {
			// su needs setuid and setgid; the container's root has them only in its namespace.
			c := s.Process.Capabilities
			for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted} {
				*set = append(*set, "CAP_SETUID", "CAP_SETGID")
			}
			s.Process.NoNewPrivileges = false
		}))
	withUserNS(t, b)
	rep := b.Report(t)
	checkMap(t, "uid_map", rep.UIDMap, [][3]uint32{{0, usernsHostID, 65536}})
	checkMap(t, "gid_map", rep.GIDMap, [][3]uint32{{0, usernsHostID, 65536}})
	for name, want := range map[string]uint32{"by-root": usernsHostID, "by-1000": usernsHostID + 1000} {
		st, err := os.Stat(filepath.Join(vol, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if uid, gid := statOwner(st); uid != want || gid != want {
			t.Errorf("%s is %d:%d on the host, want %d:%d", name, uid, gid, want, want)
		}
	}
}

// TestUserNamespaceJoinByPath: a container joins the user and network
// namespaces of another by path, as a Kubernetes pod's containers join its
// sandbox's, and makes its own mount, pid, ipc and uts namespaces inside
// that user namespace. It is root there, with the same maps, whether the
// config repeats them (containerd does) or not.
func TestUserNamespaceJoinByPath(t *testing.T) {
	t.Parallel()
	// Its parallel subtests may wait long for a slot (the VM): it outlives
	// them, and cleanup kills it.
	first := bundle.New(t, bundle.WithProbe("sleep", "600"))
	withUserNS(t, first)
	first.RunDetached(t)
	pid := first.MustState(t).Pid

	for _, maps := range []bool{true, false} {
		t.Run(fmt.Sprintf("mappings=%v", maps), func(t *testing.T) {
			t.Parallel()
			if !maps && bundle.IsRunc(t) {
				t.Skip("runc 1.1.5 requires the mappings of a joined user namespace in the config")
			}
			second := bundle.New(t)
			// The joined namespace's root is host 100000: it must reach the rootfs.
			withUserNS(t, second)
			second.Edit(t, func(s *specs.Spec) {
				s.Linux.Namespaces = withoutNS(withoutNS(s.Linux.Namespaces, specs.UserNamespace), specs.NetworkNamespace)
				s.Linux.Namespaces = append(s.Linux.Namespaces,
					specs.LinuxNamespace{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", pid)},
					specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: fmt.Sprintf("/proc/%d/ns/net", pid)})
				if !maps {
					s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
				}
			})
			rep := second.Report(t)
			for _, ns := range []string{"user", "net"} {
				if want := hostNS(t, fmt.Sprint(pid), ns); rep.Namespaces[ns] != want {
					t.Errorf("%s namespace %s, want the first container's %s", ns, rep.Namespaces[ns], want)
				}
			}
			for _, ns := range []string{"mnt", "pid", "ipc", "uts"} {
				if rep.Namespaces[ns] == hostNS(t, fmt.Sprint(pid), ns) {
					t.Errorf("%s namespace shared with the first container, want a new one", ns)
				}
			}
			checkMap(t, "uid_map", rep.UIDMap, [][3]uint32{{0, usernsHostID, 65536}})
			if rep.UID != 0 || rep.GID != 0 || rep.EUID != 0 {
				t.Errorf("uid/gid/euid = %d/%d/%d, want 0/0/0 (the joined namespace's root)", rep.UID, rep.GID, rep.EUID)
			}
			// The runtime made /dev's tmpfs inside the joined namespace: its
			// root owns it.
			if m := rep.Mount("/dev"); m == nil || !m.HasOption("uid=100000") {
				t.Errorf("/dev: %+v, want a tmpfs of the joined namespace's root (uid=100000)", m)
			}
		})
	}
}

// TestUserNamespaceRootfsMount: the rootfs is a mount of its own made
// outside the container's user namespace, as podman's overlay at
// .../merged is. Copied into the container's mount namespace it is locked,
// and pivot_root refuses a locked new root: the runtime must pivot into a
// mount of its own (the podman --uidmap case). The runtime runs in a
// private mount namespace, so the overlay never reaches the host.
func TestUserNamespaceRootfsMount(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) is needed to run the runtime in a private mount namespace")
	}
	b := bundle.New(t)
	withUserNS(t, b)
	lower := filepath.Join(b.Dir, "lower")
	if err := os.Rename(b.Rootfs, lower); err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	for _, d := range []string{b.Rootfs, filepath.Join(scratch, "up"), filepath.Join(scratch, "work")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, usernsHostID, usernsHostID); err != nil {
			t.Fatal(err)
		}
	}
	script := `set -e
mount -t overlay overlay -o "lowerdir=$L,upperdir=$S/up,workdir=$S/work" "$R"
exec "$RUNTIME" "$@"`
	ctx, cancel := context.WithTimeout(context.Background(), bundle.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
		"--root", b.Root, "run", "--bundle", b.Dir, b.ID)
	cmd.Env = append(os.Environ(), "L="+lower, "S="+scratch, "R="+b.Rootfs, "RUNTIME="+bundle.Runtime(t))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("run on an overlay rootfs with a user namespace: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	rep := bundle.ParseReport(t, stdout.String())
	if m := rep.Mount("/"); m == nil || m.FSType != "overlay" {
		t.Errorf("/ is %+v, want the overlay", m)
	}
	checkMap(t, "uid_map", rep.UIDMap, [][3]uint32{{0, usernsHostID, 65536}})
}

// TestStdioOwner: the process's user gets the pipes it inherits as stdio,
// as runc gives them (fixStdioPermissions), so a non-root process can
// reopen them by path: `echo > /dev/stderr`. A file the caller redirected
// to is not given away (runc would: ocirun only hands over pipes, sockets
// and ptys), and neither is /dev/null.
func TestStdioOwner(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "echo reopened >> /dev/stdin && exec /bin/probe report --stat /dev/null"),
		bundle.WithSpec(func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} }))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	// Detached: the container gets our pipe itself (a foreground runc
	// would put a pipe of its own in between).
	r := b.RunWith(t, bundle.RunOpts{Stdin: pw}, "run", "-d", "--bundle", b.Dir, b.ID)
	pw.Close()
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	// EOF once the container, the last writer, exits.
	if err := pr.SetReadDeadline(time.Now().Add(bundle.CommandTimeout)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "reopened\n" {
		t.Errorf("through /dev/stdin (a pipe) came %q, want \"reopened\"", got)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(pr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1000 {
		t.Errorf("stdin pipe owner %d, want the process's 1000", st.Uid)
	}
	fi, err := os.Stat(r.StdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := statOwner(fi); uid != 0 && bundle.IsOcirun(t) {
		t.Errorf("the caller's stdout file was given to uid %d", uid)
	}
	rep := bundle.ParseReport(t, readFile(t, r.StdoutPath))
	if n := rep.Stat["/dev/null"]; n.UID != 0 {
		t.Errorf("/dev/null owner %d inside, want 0: it is not the process's to take", n.UID)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestTerminalUserNamespace: in a user namespace the pty is opened by the
// namespace's root in the container's own devpts, and the process's user
// (1000) owns it, with the tty group of the devpts mount (gid=5), for init
// and for an exec'd process alike: both may reopen it by path.
func TestTerminalUserNamespace(t *testing.T) {
	t.Parallel()
	cs := newConsoleSocket(t)
	script := `echo reopened >> /dev/stdout && exec /bin/probe report --stat "$(/bin/busybox tty)"`
	initScript := `echo reopened >> /dev/stdout && /bin/probe report --stat "$(/bin/busybox tty)"; exec /bin/probe sleep 60`
	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", initScript),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Process.Terminal = true
			s.Process.User = specs.User{UID: 1000, GID: 1000}
		}))
	withUserNS(t, b)
	b.Create(t, "--console-socket", cs.path)
	master := cs.recv(t)
	b.Start(t)
	check := func(who string, out string) {
		t.Helper()
		if !strings.Contains(out, "reopened") {
			t.Errorf("%s: no \"reopened\" through /dev/stdout: %q", who, out)
		}
		rep := bundle.ParseReport(t, strings.ReplaceAll(out, "\r\n", "\n"))
		st := rep.Stat[rep.Stdin.Name]
		if !rep.Stdin.IsTTY || st.Type != "char" || st.Major != 136 {
			t.Fatalf("%s: stdin %+v, %+v, want a devpts pty", who, rep.Stdin, st)
		}
		if st.UID != 1000 || st.GID != 5 {
			t.Errorf("%s: %s is %d:%d, want 1000:5", who, rep.Stdin.Name, st.UID, st.GID)
		}
	}
	out := readUntil(t, master, "}\r\n", 10*time.Second)
	check("init", out)

	cs2 := newConsoleSocket(t)
	b.MustRun(t, "exec", "-d", "-t", "--console-socket", cs2.path, "--user", "1000:1000", b.ID, "/bin/sh", "-c", script)
	check("exec", readPTY(t, cs2.recv(t), 10*time.Second))
}

// readUntil reads the pty until its output holds end.
func readUntil(t *testing.T, master *os.File, end string, within time.Duration) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			sb.Write(buf[:n])
			if err != nil || strings.Contains(sb.String(), end) {
				done <- sb.String()
				return
			}
		}
	}()
	select {
	case s := <-done:
		return s
	case <-time.After(within):
		t.Fatalf("no %q from the pty within %v", end, within)
	}
	return ""
}
