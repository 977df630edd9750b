package integration

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootlessUser is an unprivileged user made for one test: a passwd entry
// (newuidmap looks its caller up there), 65536 subordinate uids and gids,
// a runtime dir of its own ($XDG_RUNTIME_DIR), and a copy of the runtime it
// may execute (the checkout may sit under a directory only root can enter).
type rootlessUser struct {
	Name           string
	UID, GID       uint32
	SubUID, SubGID uint32 // first of the 65536 ids /etc/subuid, /etc/subgid grant
	RuntimeDir     string
	Runtime        string
}

const subIDCount = 65536

// userMu serializes making users: in the VM two tests reading
// /etc/passwd at once would pick the same uid.
var userMu sync.Mutex

// newRootlessUser creates the user with useradd (Debian's `passwd`
// package, there on every Debian) and removes it at cleanup. In the VM,
// which has busybox and no shadow tools, it writes the files itself.
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	bundle.RequireRoot(t)
	var r [3]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	u := &rootlessUser{Name: "ocirl" + hex.EncodeToString(r[:])}
	userMu.Lock()
	defer userMu.Unlock()
	if _, err := exec.LookPath("useradd"); err == nil {
		out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", u.Name).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v: %s", u.Name, err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("userdel", u.Name).CombinedOutput(); err != nil {
				t.Errorf("userdel %s: %v: %s", u.Name, err, out)
			}
		})
	} else if os.Getenv("OCIRUN_IN_VM") == "1" {
		addVMUser(t, u.Name)
	} else {
		t.Skip("useradd is not installed (Debian package passwd): cannot make a test user")
	}
	pw, err := user.Lookup(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(pw.Uid, 10, 32)
	gid, _ := strconv.ParseUint(pw.Gid, 10, 32)
	u.UID, u.GID = uint32(uid), uint32(gid)
	u.SubUID = subIDRange(t, "/etc/subuid", u.Name, "--add-subuids")
	u.SubGID = subIDRange(t, "/etc/subgid", u.Name, "--add-subgids")

	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u.RuntimeDir = filepath.Join(dir, "xdg")
	if err := os.Mkdir(u.RuntimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(u.RuntimeDir, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	u.Runtime = bundle.Runtime(t)
	if bundle.IsOcirun(t) {
		u.Runtime = filepath.Join(dir, filepath.Base(u.Runtime))
		if err := copyExecutable(bundle.Runtime(t), u.Runtime); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// addVMUser appends the user and its group to /etc/passwd and /etc/group
// of the throw-away VM.
func addVMUser(t *testing.T, name string) {
	t.Helper()
	id := 0
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		data, _ := os.ReadFile(f)
		for line := range strings.SplitSeq(string(data), "\n") {
			if parts := strings.Split(line, ":"); len(parts) > 2 {
				if n, err := strconv.Atoi(parts[2]); err == nil && n < 60000 && n >= id {
					id = n + 1
				}
			}
		}
	}
	id = max(id, 2000)
	appendLine(t, "/etc/passwd", fmt.Sprintf("%s:x:%d:%d::/nonexistent:/bin/false", name, id, id))
	appendLine(t, "/etc/group", fmt.Sprintf("%s:x:%d:", name, id))
}

func appendLine(t *testing.T, file, line string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Fatal(err)
	}
}

// subIDRange returns the start of name's range in file (useradd makes one
// when login.defs sets SUB_UID_COUNT, Debian's default), adding 65536 ids
// above every range there when it has none.
func subIDRange(t *testing.T, file, name, usermodFlag string) uint32 {
	t.Helper()
	top := uint64(1 << 20)
	if f, err := os.Open(file); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			p := strings.Split(sc.Text(), ":")
			if len(p) != 3 {
				continue
			}
			start, err1 := strconv.ParseUint(p[1], 10, 32)
			n, err2 := strconv.ParseUint(p[2], 10, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			if p[0] == name && n >= subIDCount {
				f.Close()
				return uint32(start)
			}
			top = max(top, start+n)
		}
		f.Close()
	}
	if _, err := exec.LookPath("usermod"); err == nil {
		arg := fmt.Sprintf("%d-%d", top, top+subIDCount-1)
		if out, err := exec.Command("usermod", usermodFlag, arg, name).CombinedOutput(); err != nil {
			t.Fatalf("usermod %s %s %s: %v: %s", usermodFlag, arg, name, err, out)
		}
	} else {
		appendLine(t, file, fmt.Sprintf("%s:%d:%d", name, top, subIDCount))
		t.Cleanup(func() { removeLines(file, name+":") })
	}
	return uint32(top)
}

func removeLines(file, prefix string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	var keep []string
	for line := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n"), "\n") {
		if !strings.HasPrefix(line, prefix) {
			keep = append(keep, line)
		}
	}
	_ = os.WriteFile(file, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
}

func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

func (u *rootlessUser) cred() *syscall.Credential {
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
}

func (u *rootlessUser) env() []string {
	return []string{"XDG_RUNTIME_DIR=" + u.RuntimeDir, "USER=" + u.Name, "HOME=/nonexistent"}
}

// run runs the runtime as the user, with b's --root and the user's
// environment.
func (u *rootlessUser) run(t *testing.T, b *bundle.Bundle, args ...string) bundle.Result {
	t.Helper()
	return u.runIn(t, b, nil, args...)
}

// runIn is run started in the cgroup v2 dir cg (nil: ours).
func (u *rootlessUser) runIn(t *testing.T, b *bundle.Bundle, cg *os.File, args ...string) bundle.Result {
	t.Helper()
	return b.RunWith(t, bundle.RunOpts{User: u.cred(), Env: u.env(), Cgroup: cg, Runtime: u.Runtime}, args...)
}

// rootlessBundle makes a bundle the user owns, with the config that the
// runtime's own `spec --rootless`, run as the user, writes; its process is
// the probe's args, without a terminal; edit changes the rest.
func rootlessBundle(t *testing.T, u *rootlessUser, args []string, edit func(*specs.Spec)) *bundle.Bundle {
	t.Helper()
	b := bundle.New(t)
	b.Root = filepath.Join(u.RuntimeDir, "state")
	for _, d := range []string{filepath.Dir(b.Dir), b.Dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := chownTree(b.Dir, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(b.Dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	if r := u.run(t, b, "spec", "--rootless", "--bundle", b.Dir); r.Code != 0 {
		t.Fatalf("spec --rootless as %s: %v", u.Name, r)
	}
	data, err := os.ReadFile(filepath.Join(b.Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	// No cgroupsPath, as `spec --rootless` writes and podman passes on
	// cgroup v1: runc forgives a cgroup it may not make only then. The
	// runtime would put the container in <its own cgroup>/<id>, where
	// CheckGone looks.
	s.Linux.CgroupsPath = ""
	b.CgroupsPath = b.ID
	if edit != nil {
		edit(&s)
	}
	b.Spec = &s
	b.WriteConfig(t)
	return b
}

func chownTree(dir string, uid, gid uint32) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
}
