package rootfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// The root tests re-execute the test binary into fresh mount, pid, net, ipc and
// uts namespaces (Go makes "/" private there), where runScenario plays the
// init: Prepare, Pivot, Finalize, then it reports what it sees as JSON.
const envScenario = "OCIRUN_ROOTFS_SCENARIO"

type scenario struct {
	Config  configs.Config
	Cgroup  *CgroupMount
	Stat    []string
	Write   []string
	Read    []string
	Console string // "pty": mount a new pty; "symlink": same, over a /dev/console symlink
	Sysctl  map[string]string
	// PrePivot reports the mounts seen right after Prepare (host paths).
	PrePivot bool
}

type statResult struct {
	Type         string
	Perm         uint32
	Major, Minor uint32
	UID, GID     uint32
	Link         string
	Err          string
}

type mountEntry struct {
	Mountpoint, Options, FSType, Source, SuperOptions string
	Optional                                          string // propagation: "shared:N", "master:N"
}

type report struct {
	Stage          string
	Error          string
	PrePivotMounts []mountEntry
	Mounts         []mountEntry
	Stats          map[string]statResult
	Writes         map[string]string
	Reads          map[string]string
}

func TestMain(m *testing.M) {
	if f := os.Getenv(envScenario); f != "" {
		runtime.LockOSThread()
		runtime.GOMAXPROCS(1)
		rep := runScenario(f)
		_ = json.NewEncoder(os.Stdout).Encode(rep)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runScenario(file string) (rep report) {
	b, err := os.ReadFile(file)
	if err != nil {
		return report{Stage: "read", Error: err.Error()}
	}
	var sc scenario
	if err := json.Unmarshal(b, &sc); err != nil {
		return report{Stage: "decode", Error: err.Error()}
	}
	fail := func(stage string, err error) report { return report{Stage: stage, Error: err.Error()} }
	err = Prepare(&sc.Config, sc.Cgroup, Options{})
	if sc.PrePivot {
		rep.PrePivotMounts, _ = readMountinfo()
	}
	if err != nil {
		rep.Stage, rep.Error = "prepare", err.Error()
		return rep
	}
	if err := Pivot(&sc.Config); err != nil {
		return fail("pivot", err)
	}
	if sc.Console != "" {
		if err := setupTestConsole(sc.Console == "symlink"); err != nil {
			return fail("console", err)
		}
	}
	if err := WriteSysctls(sc.Sysctl); err != nil {
		return fail("sysctl", err)
	}
	if err := Finalize(&sc.Config); err != nil {
		return fail("finalize", err)
	}
	rep.Mounts, err = readMountinfo()
	if err != nil {
		return fail("mountinfo", err)
	}
	rep.Stats = map[string]statResult{}
	for _, p := range sc.Stat {
		rep.Stats[p] = lstat(p)
	}
	rep.Writes = map[string]string{}
	for _, p := range sc.Write {
		rep.Writes[p] = errString(os.WriteFile(p, []byte("x"), 0o644))
	}
	rep.Reads = map[string]string{}
	for _, p := range sc.Read {
		b, err := os.ReadFile(p)
		if err != nil {
			rep.Reads[p] = "error: " + err.Error()
		} else {
			rep.Reads[p] = string(b)
		}
	}
	return rep
}

func setupTestConsole(symlink bool) error {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return err
	}
	fd, err := unix.IoctlRetInt(int(ptmx.Fd()), unix.TIOCGPTPEER)
	if err != nil {
		// TIOCGPTPEER takes open flags as its argument; IoctlRetInt passes 0 (O_RDONLY), fine here.
		return err
	}
	slave := os.NewFile(uintptr(fd), "pty-slave")
	defer slave.Close()
	if symlink {
		if err := os.Symlink("/proc/sys/kernel/core_pattern", "/dev/console"); err != nil {
			return err
		}
	}
	return MountConsole(slave)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func lstat(p string) statResult {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return statResult{Err: err.Error()}
	}
	r := statResult{Perm: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		r.Type = "dir"
	case unix.S_IFREG:
		r.Type = "file"
	case unix.S_IFLNK:
		r.Type = "link"
		r.Link, _ = os.Readlink(p)
	case unix.S_IFCHR:
		r.Type = "char"
	case unix.S_IFBLK:
		r.Type = "block"
	default:
		r.Type = "other"
	}
	if r.Type == "char" || r.Type == "block" {
		r.Major, r.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	return r
}

func readMountinfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 6 || len(b) < 3 {
			return nil, fmt.Errorf("bad mountinfo line %q", sc.Text())
		}
		out = append(out, mountEntry{Mountpoint: a[4], Options: a[5], FSType: b[0], Source: b[1], SuperOptions: b[2],
			Optional: strings.Join(a[6:], " ")})
	}
	return out, sc.Err()
}

// run executes sc in new namespaces and returns the child's report.
func run(t *testing.T, sc scenario, extraClone uintptr) report {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create namespaces and mount")
	}
	file := filepath.Join(t.TempDir(), "scenario.json")
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envScenario+"="+file)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:   syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | extraClone,
		Unshareflags: syscall.CLONE_NEWNS,
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scenario child: %v\nstderr: %s", err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("decode report %q: %v", out, err)
	}
	return rep
}

// mustSucceed fails the test when the child stopped at some stage.
func mustSucceed(t *testing.T, rep report) {
	t.Helper()
	if rep.Error != "" {
		t.Fatalf("%s failed: %s", rep.Stage, rep.Error)
	}
}

func findMount(rep report, mp string) (mountEntry, bool) {
	var found mountEntry
	ok := false
	for _, m := range rep.Mounts { // the last one is the visible one
		if m.Mountpoint == mp {
			found, ok = m, true
		}
	}
	return found, ok
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// newRootfs builds a minimal image: busybox and the usual top directories.
func newRootfs(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err == nil {
		err = os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return root
}

// specMount converts OCI-style options the way specconv does, for the tests.
func specMount(typ, src, dst string, opts ...string) configs.Mount {
	flagOpts := map[string]int{
		"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
		"strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME, "noatime": unix.MS_NOATIME,
		"bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC, "nosymfollow": unix.MS_NOSYMFOLLOW,
		"remount": unix.MS_REMOUNT,
	}
	clearOpts := map[string]int{"rw": unix.MS_RDONLY, "suid": unix.MS_NOSUID, "dev": unix.MS_NODEV, "exec": unix.MS_NOEXEC}
	m := configs.Mount{Device: typ, Source: src, Destination: dst}
	var data []string
	for _, o := range opts {
		switch {
		case flagOpts[o] != 0:
			m.Flags |= flagOpts[o]
		case clearOpts[o] != 0:
			m.ClearedFlags |= clearOpts[o]
		case o == "rprivate":
			m.PropagationFlags = append(m.PropagationFlags, unix.MS_PRIVATE|unix.MS_REC)
		case o == "shared":
			m.PropagationFlags = append(m.PropagationFlags, unix.MS_SHARED)
		case o == "tmpcopyup":
			m.Extensions |= configs.EXT_COPYUP
		default:
			data = append(data, o)
		}
	}
	if m.Flags&unix.MS_BIND != 0 {
		m.Device = "bind"
	}
	m.Data = strings.Join(data, ",")
	return m
}
