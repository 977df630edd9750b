// Package bundle builds OCI bundles on the fly for the black-box integration tests
// and runs the runtime under test against them with a private state root and cgroup.
package bundle

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ProbePath is where the probe lives inside every rootfs.
const ProbePath = "/bin/probe"

// Bundle is one container's bundle directory plus everything that makes it private
// to its test: id, state root and relative cgroup path.
type Bundle struct {
	Dir         string // bundle directory (holds config.json)
	Rootfs      string // Dir/rootfs
	ID          string
	Root        string // the runtime's --root
	CgroupsPath string // relative, so it lands under the test process's own cgroup
	Spec        *specs.Spec

	// Pid is the init pid last seen by State, checked in cleanup to be gone.
	pid       int
	startTime string
}

// Option changes a bundle before its config.json is written.
type Option func(*Bundle)

// New makes a bundle in t.TempDir() whose process is `probe report`, writes its
// config.json and registers a cleanup that force-deletes the container and checks
// that no state dir, cgroup or process is left behind.
func New(t testing.TB, opts ...Option) *Bundle {
	t.Helper()
	dir := t.TempDir()
	b := build(t, &Bundle{Dir: dir, ID: uniqueID(t), Root: filepath.Join(dir, "state")}, opts)
	t.Cleanup(func() { b.cleanup(t) })
	return b
}

// build fills in b (Dir and ID set): rootfs, cgroup path, spec, config.json.
func build(t testing.TB, b *Bundle, opts []Option) *Bundle {
	t.Helper()
	RequireRoot(t)
	a := buildAssets(t)
	b.Rootfs = filepath.Join(b.Dir, "rootfs")
	b.CgroupsPath = "ocirun-it-" + b.ID
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := makeRootfs(b.Rootfs, a); err != nil {
		t.Fatalf("rootfs: %v", err)
	}
	b.Spec = DefaultSpec(b.CgroupsPath)
	for _, o := range opts {
		o(b)
	}
	b.WriteConfig(t)
	return b
}

// WriteConfig (re)writes config.json from b.Spec.
func (b *Bundle) WriteConfig(t testing.TB) {
	t.Helper()
	data, err := json.MarshalIndent(b.Spec, "", "\t")
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Edit applies f to the spec and rewrites config.json.
func (b *Bundle) Edit(t testing.TB, f func(*specs.Spec)) {
	t.Helper()
	f(b.Spec)
	b.WriteConfig(t)
}

// DefaultSpec mirrors `runc spec` except: no terminal, the probe's report as args,
// a writable rootfs (tests that want it read-only say so), a test hostname and the
// given cgroups path.
func DefaultSpec(cgroupsPath string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0},
			Args: []string{ProbePath, "report"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
				Ambient:   caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "ocirun-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: cgroupsPath,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// WithArgs sets process.args.
func WithArgs(args ...string) Option {
	return func(b *Bundle) { b.Spec.Process.Args = args }
}

// WithProbe runs the probe with the given subcommand and arguments.
func WithProbe(args ...string) Option {
	return WithArgs(append([]string{ProbePath}, args...)...)
}

// WithSpec applies an arbitrary change to the spec.
func WithSpec(f func(*specs.Spec)) Option {
	return func(b *Bundle) { f(b.Spec) }
}

// RequireRoot skips t when not running as root: the runtime needs namespaces,
// mounts and cgroups.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration tests need root (namespaces, mounts, cgroups)")
	}
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9]+`)

// uniqueID derives a readable, valid container id from the test name plus randomness.
func uniqueID(t testing.TB) string {
	name := strings.ToLower(idUnsafe.ReplaceAllString(t.Name(), "-"))
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
		name = strings.TrimLeft(name, "-")
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "t-" + name + "-" + hex.EncodeToString(r[:])
}

// assets are the files every rootfs gets, prepared once per test binary run.
type assets struct {
	dir     string
	probe   string
	busybox string
	err     error
	skip    string
}

var (
	assetsOnce sync.Once
	theAssets  assets
)

// Main is for TestMain: it runs the tests and removes the probe build afterwards.
// The runtime's compiled seccomp programs go to a directory of this run's
// (removed after it), not the host's default cache.
func Main(m *testing.M) {
	var cache string
	if _, ok := os.LookupEnv(SeccompCacheEnv); !ok {
		if dir, err := os.MkdirTemp("", "ocirun-it-seccomp-"); err == nil {
			cache = dir
			os.Setenv(SeccompCacheEnv, filepath.Join(dir, "cache"))
		}
	}
	code := m.Run()
	if theAssets.dir != "" {
		os.RemoveAll(theAssets.dir)
	}
	if cache != "" {
		os.RemoveAll(cache)
	}
	os.Exit(code)
}

// SeccompCacheEnv is ocirun's directory of compiled seccomp programs.
const SeccompCacheEnv = "OCIRUN_SECCOMP_CACHE"

func buildAssets(t testing.TB) *assets {
	t.Helper()
	assetsOnce.Do(func() {
		a := &theAssets
		if _, err := os.Stat("/bin/busybox"); err != nil {
			a.skip = "/bin/busybox is missing (install busybox-static): the test rootfs needs a static shell"
			return
		}
		var err error
		a.dir, err = os.MkdirTemp("", "ocirun-it-assets-")
		if err != nil {
			a.err = err
			return
		}
		a.probe, a.err = probeBinary(a.dir)
		if a.err != nil {
			return
		}
		a.busybox = filepath.Join(a.dir, "busybox")
		a.err = copyFile("/bin/busybox", a.busybox, 0o755)
	})
	if theAssets.skip != "" {
		t.Skip(theAssets.skip)
	}
	if theAssets.err != nil {
		t.Fatal(theAssets.err)
	}
	return &theAssets
}

// ProbeEnv names a prebuilt static probe to use instead of building one: where
// there is no Go toolchain (the cgroup v2 VM of contrib/test-cgroupv2.sh).
const ProbeEnv = "OCIRUN_TEST_PROBE"

func probeBinary(dir string) (string, error) {
	if p := os.Getenv(ProbeEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", ProbeEnv, err)
		}
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	probe := filepath.Join(dir, "probe")
	cmd := exec.Command(goBinary(), "build", "-o", probe, "./tests/cmd/probe")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build probe: %v\n%s", err, out)
	}
	return probe, nil
}

func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// ModuleRoot is the directory holding the repository's go.mod.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return filepath.Clean(root), nil
		}
	}
	out, err := exec.Command(goBinary(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("module root not found: run the tests inside the ocirun module")
	}
	return filepath.Dir(gomod), nil
}

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const group = `root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:tester
tester:x:1000:
nogroup:x:65534:
`

func makeRootfs(rootfs string, a *assets) error {
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/tester"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return err
	}
	// Each rootfs gets its own copy: a runtime bug that writes through to the
	// binaries must not poison every other test.
	if err := copyFile(a.probe, filepath.Join(rootfs, "bin", "probe"), 0o755); err != nil {
		return err
	}
	if err := copyFile(a.busybox, filepath.Join(rootfs, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	for _, applet := range []string{"sh", "cat", "echo", "sleep", "ls", "touch", "id"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			return err
		}
	}
	files := map[string]string{"etc/passwd": passwd, "etc/group": group, "etc/hostname": "ocirun-test\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
