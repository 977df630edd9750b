package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// podman on a systemd host uses cgroup_manager = "systemd": it calls the
// runtime with --systemd-cgroup and a cgroupsPath machine.slice:libpod:<id>,
// and puts conmon in a scope of its own. Debian's podman and conmon, run from
// the host's /usr inside the systemd container of systemd_host_test.go, drive
// the whole path:
//
//	podman → conmon (libpod-conmon-<id>.scope) → /ocirun-test/runtime --systemd-cgroup create ...
//	  → transient unit libpod-<id>.scope in machine.slice
//
// podman's storage, run root and temp dir lie on that container's /var and
// /run tmpfs, its overlay mounts and its shm locks in that container's mount
// namespace and /dev/shm, so all of it goes with the container. /etc is the
// host's, bound read-only: the private containers.conf and storage.conf come
// from the share through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.

const (
	// podImage is the image of contrib/test-podman.sh, built by mkimage.
	podImage   = "docker.io/ocirun/busybox:test"
	podStorage = "/var/lib/ocirun-podman/storage"
	podRunroot = "/run/ocirun-podman/run"
	podTmp     = "/run/ocirun-podman/tmp"
	// podSlice is where podman puts a root container's scope when
	// cgroup_manager is systemd and no --cgroup-parent is given.
	podSlice = "/machine.slice"
)

// podGlobals go on every podman call, not only in the config files: conmon's
// exit command (podman container cleanup) is built from these flags, and
// conmon passes CONTAINERS_CONF on to it but not CONTAINERS_STORAGE_CONF.
var podGlobals = []string{
	"--root", podStorage, "--runroot", podRunroot, "--tmpdir", podTmp,
	"--storage-driver", "overlay", "--runtime", sdRuntime,
	"--cgroup-manager", "systemd", "--events-backend", "file",
}

// podmanIn is podman run inside a systemd container.
type podmanIn struct {
	h *systemdHost
}

// TestSystemdPodman: with cgroup_manager = "systemd", a container podman runs
// lands in libpod-<id>.scope of machine.slice in every hierarchy; a detached
// one's unit carries podman's --memory and --pids-limit, which its cgroup
// files agree with; exec, pause and unpause work through conmon, and stop plus
// rm leave no unit, cgroup or runtime state behind.
func TestSystemdPodman(t *testing.T) {
	t.Parallel()
	if os.Getenv("OCIRUN_IN_VM") != "" {
		t.Skip("OCIRUN_IN_VM is set: the cgroup v2 VM image has no podman")
	}
	// Of the host's programs the systemd container sees only /usr: a podman
	// in /opt would not be there.
	for _, b := range []string{"podman", "conmon"} {
		p, err := exec.LookPath(b)
		if err != nil && b == "conmon" {
			// Where podman's own conmon_path looks when $PATH has none.
			p, err = "/usr/libexec/podman/conmon", nil
			if _, serr := os.Stat(p); serr != nil {
				err = serr
			}
		}
		if err != nil {
			t.Skipf("%s is missing (apt-get install podman): %v", b, err)
		}
		if resolved, err := filepath.EvalSymlinks(p); err != nil || !strings.HasPrefix(resolved, "/usr/") {
			t.Skipf("%s is at %s (%s), not under /usr: the systemd container binds only the host's /usr", b, p, resolved)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is missing: the busybox image is built by contrib/containerd/mkimage: %v", err)
	}
	root, err := bundle.ModuleRoot()
	if err != nil {
		t.Skip(err)
	}

	h := startSystemd(t)
	cmd := exec.Command(goBin, "run", "./contrib/containerd/mkimage", "-o", filepath.Join(h.share, "busybox.oci.tar"))
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}
	p := startPodman(t, h)
	p.mustPodman(t, "pull", "-q", "oci-archive:"+sdShare+"/busybox.oci.tar")

	hiers := []string{"memory", "pids", "name=systemd"}
	if !cgroupV1() {
		hiers = []string{""}
	}

	// 1. A foreground container sees its own scope. --cgroupns host: v1's
	// default, and on v2 podman's private default would show "/".
	out := p.mustPodman(t, "run", "--rm", "--network", "none", "--cgroupns", "host", podImage,
		"sh", "-c", "cat /proc/self/cgroup; echo done")
	if !strings.HasSuffix(strings.TrimSpace(out), "\ndone") {
		t.Errorf("podman run --rm: output does not end in done:\n%s", out)
	}
	m := regexp.MustCompile(`libpod-([0-9a-f]{64})\.scope`).FindStringSubmatch(out)
	if m == nil {
		p.fatal(t, "podman run --rm: no libpod-<id>.scope in /proc/self/cgroup:\n%s", out)
	}
	fgID := m[1]
	cg := parseProcCgroup(out)
	for _, hier := range hiers {
		if want := podSlice + "/libpod-" + fgID + ".scope"; cg[hier] != want {
			t.Errorf("podman run --rm: in %q:%q, want %s (all: %v)", hier, cg[hier], want, cg)
		}
	}
	p.checkGone(t, fgID)

	// 2. A detached container through its life.
	id := strings.TrimSpace(p.mustPodman(t, "run", "-d", "--network", "none",
		"--memory", "64m", "--pids-limit", "50", podImage, "sleep", "60"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		p.fatal(t, "podman run -d printed %q, want a container id", id)
	}
	unit := "libpod-" + id + ".scope"
	cgrel := podSlice + "/" + unit

	// podman passes no --root: the runtime's default root holds the state.
	r := h.exec(t, sdRuntime, "state", id)
	var st specs.State
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil {
		p.fatal(t, "runtime state of %s: %v", id, r)
	}
	if st.Status != specs.StateRunning {
		t.Errorf("runtime state of %s: status %q, want running", id, st.Status)
	}
	var spec specs.Spec
	if err := json.Unmarshal([]byte(h.mustExec(t, "cat", st.Bundle+"/config.json")), &spec); err != nil {
		t.Fatalf("%s/config.json: %v", st.Bundle, err)
	}
	if want := "machine.slice:libpod:" + id; spec.Linux == nil || spec.Linux.CgroupsPath != want {
		t.Errorf("config.json podman wrote: cgroupsPath is not %s: %+v", want, spec.Linux)
	}
	cg = h.procCgroup(t, st.Pid)
	for _, hier := range hiers {
		if cg[hier] != cgrel {
			t.Errorf("container pid %d in %q:%q, want %s (all: %v)", st.Pid, hier, cg[hier], cgrel, cg)
		}
	}

	memFile, memProp := "memory.limit_in_bytes", "MemoryLimit"
	if !cgroupV1() {
		memFile, memProp = "memory.max", "MemoryMax"
	}
	props := h.unitProps(t, unit, "ActiveState", memProp, "TasksMax")
	if props["ActiveState"] != "active" {
		p.fatal(t, "%s: ActiveState=%q, want active", unit, props["ActiveState"])
	}
	if props[memProp] != "67108864" {
		t.Errorf("%s: %s=%s, want 67108864 (--memory 64m)", unit, memProp, props[memProp])
	}
	if props["TasksMax"] != "50" {
		t.Errorf("%s: TasksMax=%s, want 50 (--pids-limit 50)", unit, props["TasksMax"])
	}
	if got := p.h.scopeFile(t, cgrel, memFile); got != "67108864" {
		t.Errorf("%s: %s = %s, want 67108864", unit, memFile, got)
	}
	if got := p.h.scopeFile(t, cgrel, "pids.max"); got != "50" {
		t.Errorf("%s: pids.max = %s, want 50", unit, got)
	}
	// podman's own doing, not the runtime's: it shows conmon could reach
	// systemd from this setup.
	if c := h.unitProps(t, "libpod-conmon-"+id+".scope", "ActiveState"); c["ActiveState"] != "active" {
		t.Errorf("libpod-conmon-%s.scope: ActiveState=%q, want active", id, c["ActiveState"])
	}

	if out := p.mustPodman(t, "exec", id, "echo", "hi"); strings.TrimSpace(out) != "hi" {
		t.Errorf("podman exec printed %q, want hi", out)
	}

	// The freezer the runtime drives must be the scope's: a pause through
	// the wrong path would leave the container running and report success.
	freezeFile, frozen, thawed := "freezer.state", "FROZEN", "THAWED"
	if !cgroupV1() {
		freezeFile, frozen, thawed = "cgroup.freeze", "1", "0"
	}
	p.mustPodman(t, "pause", id)
	if s := p.status(t, id); s != "paused" {
		t.Errorf("after podman pause: status %q, want paused", s)
	}
	if got := p.h.scopeFile(t, cgrel, freezeFile); got != frozen {
		t.Errorf("after podman pause: %s %s, want %s", freezeFile, got, frozen)
	}
	p.mustPodman(t, "unpause", id)
	if s := p.status(t, id); s != "running" {
		t.Errorf("after podman unpause: status %q, want running", s)
	}
	if got := p.h.scopeFile(t, cgrel, freezeFile); got != thawed {
		t.Errorf("after podman unpause: %s %s, want %s", freezeFile, got, thawed)
	}

	// sleep as pid 1 ignores SIGTERM: podman kills it after the second.
	p.mustPodman(t, "stop", "-t", "1", id)
	if s := p.status(t, id); s != "exited" {
		t.Errorf("after podman stop: status %q, want exited", s)
	}
	p.mustPodman(t, "rm", id)
	p.checkGone(t, id)
}

// startPodman writes podman's private config into the share and makes the
// dirs it expects; cleanup removes whatever containers a failed test left,
// before the systemd container goes (it was registered after its cleanup).
func startPodman(t *testing.T, h *systemdHost) *podmanIn {
	t.Helper()
	nofile, nproc := hardLimits(t, h)
	// The runtime cannot raise a hard limit (no CAP_SYS_RESOURCE), and
	// podman's defaults are 1048576: ask for what the systemd container's
	// processes have. conmon caps nproc at 32768 whatever it inherits.
	nproc = min(nproc, 32768)
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=%[1]d:%[1]d", "nproc=%[2]d:%[2]d"]
# The default is journald when PID 1 is systemd, and no journald runs here.
log_driver = "k8s-file"

[network]
# Network definitions stay private (--network none needs none on disk).
network_config_dir = "/run/ocirun-podman/networks"

[engine]
cgroup_manager = "systemd"
events_logger = "file"
# podman passes --log-format=json only to runtimes whose basename is listed.
runtime_supports_json = [%[3]q]
`, nofile, nproc, filepath.Base(sdRuntime))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n", podStorage, podRunroot)
	for name, data := range map[string]string{"containers.conf": conf, "storage.conf": storage} {
		if err := os.WriteFile(filepath.Join(h.share, "podman-"+name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(h.share, "io"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The oci-archive transport unpacks into /var/tmp, whatever TMPDIR or
	// image_copy_tmp_dir say; /var is the systemd container's tmpfs.
	h.mustExec(t, "mkdir", "-p", "-m", "1777", "/var/tmp")
	h.mustExec(t, "mkdir", "-p", podTmp)
	p := &podmanIn{h: h}
	t.Cleanup(func() {
		if r := p.podman(t, "rm", "-a", "-f", "-t", "0"); r.Code != 0 {
			t.Logf("cleanup: %v", r)
		}
	})
	return p
}

// hardLimits returns the hard nofile and nproc limits of a process in the
// systemd container (the config's rlimits, not the host's).
func hardLimits(t *testing.T, h *systemdHost) (nofile, nproc int) {
	t.Helper()
	out := h.mustExec(t, "cat", "/proc/self/limits")
	hard := func(name string) int {
		for _, l := range strings.Split(out, "\n") {
			rest, ok := strings.CutPrefix(l, name+" ")
			if !ok {
				continue
			}
			// soft hard [units]
			f := strings.Fields(rest)
			if len(f) < 2 {
				break
			}
			if f[1] == "unlimited" {
				return 1 << 20
			}
			if n, err := strconv.Atoi(f[1]); err == nil {
				return n
			}
		}
		t.Fatalf("no %q in /proc/self/limits of the systemd container:\n%s", name, out)
		return 0
	}
	return hard("Max open files"), hard("Max processes")
}

// podman runs podman in the systemd container with the private config. Its
// stdio are files in the share: conmon and the container outlive a run -d,
// and an outer pipe they inherited would keep the outer exec waiting.
// timeout bounds a hung podman below the outer runtime's own limit.
func (p *podmanIn) podman(t *testing.T, args ...string) bundle.Result {
	t.Helper()
	n := p.h.calls.Add(1)
	out, errf := fmt.Sprintf("io/podman-%d.out", n), fmt.Sprintf("io/podman-%d.err", n)
	script := fmt.Sprintf(`export CONTAINERS_CONF=%[1]s/podman-containers.conf CONTAINERS_STORAGE_CONF=%[1]s/podman-storage.conf
exec timeout -k 2 25 podman "$@" </dev/null >%[1]s/%[2]s 2>%[1]s/%[3]s`, sdShare, out, errf)
	full := append(append([]string{"podman"}, podGlobals...), args...)
	r := p.h.exec(t, append([]string{"sh", "-c", script, "sh"}, full[1:]...)...)
	r.Args = full
	stdout, _ := os.ReadFile(filepath.Join(p.h.share, out))
	stderr, _ := os.ReadFile(filepath.Join(p.h.share, errf))
	r.Stdout, r.Stderr = string(stdout), r.Stderr+string(stderr)
	if r.Code == 124 {
		r.Stderr += "\n(killed by timeout after 25s)"
	}
	return r
}

func (p *podmanIn) mustPodman(t *testing.T, args ...string) string {
	t.Helper()
	r := p.podman(t, args...)
	if r.Code != 0 {
		p.fatal(t, "%v", r)
	}
	return r.Stdout
}

// status is podman's view of the container: created, running, paused, exited.
func (p *podmanIn) status(t *testing.T, id string) string {
	t.Helper()
	return strings.TrimSpace(p.mustPodman(t, "inspect", "-f", "{{.State.Status}}", id))
}

// checkGone asserts that, once podman removed the container, its scope and
// conmon's are unloaded or inactive, neither has a cgroup directory left in
// any hierarchy (seen from the host) and the runtime knows no such container.
func (p *podmanIn) checkGone(t *testing.T, id string) {
	t.Helper()
	waitGone(t, func() []string {
		var left []string
		for _, unit := range []string{"libpod-" + id + ".scope", "libpod-conmon-" + id + ".scope"} {
			left = append(left, p.h.unitLeftovers(t, unit, podSlice+"/"+unit)...)
		}
		if r := p.h.exec(t, sdRuntime, "state", id); r.Code == 0 {
			left = append(left, "the runtime still has state for "+id+": "+r.Stdout)
		}
		return left
	})
}

// fatal fails the test with what shows where a failure came from: podman
// relays only the runtime's last error line, so the tail of every container's
// runtime log (podman's --log for the runtime) and systemd's view of the
// libpod units.
func (p *podmanIn) fatal(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	logs := p.h.exec(t, "sh", "-c", "tail -n 20 "+podRunroot+"/overlay-containers/*/userdata/oci-log")
	if logs.Stdout == "" {
		logs.Stdout = "(none)\n"
	}
	units := p.h.exec(t, "systemctl", "list-units", "--all", "--no-pager", "--plain", "libpod*")
	t.Fatalf("%s\nruntime logs:\n%s\nlibpod units:\n%s", msg, logs.Stdout, units.Stdout)
}

// parseProcCgroup keys the lines of a /proc/PID/cgroup in out by hierarchy
// ("memory", "name=systemd", "" for v2); other lines are ignored.
func parseProcCgroup(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		parts := strings.SplitN(strings.TrimSpace(l), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m
}
