package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCgroupPidsLimitZero: pids.limit 0 is a limit, not "no limit": the
// runtime-spec says 0 is a valid value runtimes SHOULD treat as such. runc
// 1.4 writes 1 (runc 1.1 writes max); ocirun writes 0, as the spec says.
// Either forbids every fork once the container's process is in.
func TestCgroupPidsLimitZero(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "pids.limit 0 as a limit", "1.4.0")
	want := "0"
	if bundle.IsRunc(t) {
		want = "1"
	}
	zero := int64(0)
	withZero := bundle.WithSpec(func(s *specs.Spec) { s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &zero} })

	t.Run("no-fork", func(t *testing.T) {
		t.Parallel()
		// echo is a shell builtin; cat needs a fork, which fails and ends the script.
		b := bundle.New(t, bundle.WithArgs("sh", "-c", "echo start; cat /dev/null; echo forked"), withZero)
		r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
		if !strings.Contains(r.Stdout, "start") {
			t.Fatalf("the container did not run: %v", r)
		}
		if strings.Contains(r.Stdout, "forked") || r.Code == 0 {
			t.Errorf("the container forked under pids.limit 0: %v", r)
		}
		if !strings.Contains(r.Stdout+r.Stderr, "can't fork") {
			t.Errorf("no fork failure reported: %v", r)
		}
	})

	t.Run("pids.max", func(t *testing.T) {
		t.Parallel()
		// sleep is exec'd: the container's process never forks.
		b := bundle.New(t, bundle.WithArgs("sleep", "60"), withZero)
		b.RunDetached(t)
		if v, _ := mustCgFile(t, b, "pids.max"); v != want {
			t.Errorf("pids.max = %s with pids.limit 0, want %s", v, want)
		}
		b.MustRun(t, "update", "--pids-limit", "-1", b.ID)
		if v, _ := mustCgFile(t, b, "pids.max"); v != "max" {
			t.Errorf("pids.max = %s after update --pids-limit -1, want max", v)
		}
		b.MustRun(t, "update", "--pids-limit", "0", b.ID)
		if v, _ := mustCgFile(t, b, "pids.max"); v != want {
			t.Errorf("pids.max = %s after update --pids-limit 0, want %s", v, want)
		}
		b.MustRun(t, "update", "--pids-limit", "9", b.ID)
		stdin := tempInput(t, `{"pids":{"limit":0}}`)
		if r := b.RunWith(t, bundle.RunOpts{Stdin: stdin}, "update", "-r", "-", b.ID); r.Code != 0 {
			t.Fatalf("%v", r)
		}
		if v, _ := mustCgFile(t, b, "pids.max"); v != want {
			t.Errorf("pids.max = %s after update -r {\"pids\":{\"limit\":0}}, want %s", v, want)
		}
	})
}

// tempInput is a file holding s, opened for reading from the start.
func tempInput(t *testing.T, s string) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "input")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCgroupRefuseNonEmpty: create refuses a cgroup that already holds
// processes (the runtime-spec's example of a cgroup not fit for purpose), and
// its cleanup leaves the other container alone.
func TestCgroupRefuseNonEmpty(t *testing.T) {
	t.Parallel()
	skipOldRunc(t, "refusing a non-empty cgroup", "1.2.0")
	b := bundle.New(t, bundle.WithArgs("sleep", "60"))
	b.RunDetached(t)
	pid := b.MustState(t).Pid

	// A second container from the same bundle: the same cgroupsPath.
	second := b.ID + "-2"
	for _, cmd := range [][]string{{"create", "--bundle", b.Dir, second}, {"run", "-d", "--bundle", b.Dir, second}} {
		r := b.Run(t, cmd...)
		if r.Code == 0 {
			b.Run(t, "delete", "--force", second)
			t.Fatalf("%s in a non-empty cgroup succeeded", cmd[0])
		}
		if !strings.Contains(r.Stderr, "container's cgroup is not empty: 1 process(es) found") {
			t.Errorf("%s in a non-empty cgroup: want runc's \"container's cgroup is not empty\", got %v", cmd[0], r)
		}
		if r := b.Run(t, "state", second); r.Code == 0 {
			t.Errorf("%s left container %s behind: %v", cmd[0], second, r)
		}
	}
	if st := b.MustState(t); st.Status != specs.StateRunning || st.Pid != pid {
		t.Errorf("the first container is %s (pid %d) after the refused creates, want running (pid %d)", st.Status, st.Pid, pid)
	}
}

// TestCgroupRefuseFrozen: create refuses a pre-existing frozen cgroup instead
// of starting an init that would hang in it, and leaves the cgroup as it was.
func TestCgroupRefuseFrozen(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("sleep", "60"))
	dirs, err := bundle.CgroupDirs(b.CgroupsPath)
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	// Runs before the bundle's cleanup, which wants the dirs gone.
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			thaw(made[i])
			if err := os.Remove(made[i]); err != nil {
				t.Errorf("remove the test's cgroup: %v", err)
			}
		}
	})
	frozen := ""
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		made = append(made, d)
		if frozen != "" {
			continue
		}
		var err error
		if _, serr := os.Stat(filepath.Join(d, "freezer.state")); serr == nil {
			frozen = filepath.Join(d, "freezer.state")
			err = os.WriteFile(frozen, []byte("FROZEN"), 0)
		} else if cgroupV2() {
			frozen = filepath.Join(d, "cgroup.freeze")
			err = os.WriteFile(frozen, []byte("1"), 0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if frozen == "" {
		t.Skip("no freezer")
	}
	for _, cmd := range [][]string{{"create", "--bundle", b.Dir, b.ID}, {"run", "-d", "--bundle", b.Dir, b.ID}} {
		start := time.Now()
		r := b.Run(t, cmd...)
		if r.Code == 0 {
			t.Fatalf("%s in a frozen cgroup succeeded", cmd[0])
		}
		if !strings.Contains(r.Stderr, "container's cgroup unexpectedly frozen") {
			t.Errorf("%s in a frozen cgroup: want runc's \"container's cgroup unexpectedly frozen\", got %v", cmd[0], r)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v to fail", cmd[0], d)
		}
		if r := b.Run(t, "state", b.ID); r.Code == 0 {
			t.Errorf("%s left the container behind: %v", cmd[0], r)
		}
	}
	for _, d := range made {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("the refused create removed the caller's cgroup %s", d)
		}
	}
}

// thaw undoes the freeze of a cgroup dir the test made.
func thaw(dir string) {
	_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
	_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
}

// podCgroup makes a parent cgroup under the test's own in every hierarchy,
// its CFS quota set to quota/period, and returns its relative path. Call it
// before bundle.New: its cleanup, which removes it, then runs after the
// bundle's.
func podCgroup(t *testing.T, quota, period int) string {
	t.Helper()
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	pod := "ocirun-it-pod-" + hex.EncodeToString(r[:])
	dirs, err := bundle.CgroupDirs(pod)
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			if err := os.Remove(made[i]); err != nil {
				t.Errorf("remove the pod cgroup: %v", err)
			}
		}
	})
	limited := false
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		made = append(made, d)
		if _, err := os.Stat(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			for f, v := range map[string]int{"cpu.cfs_period_us": period, "cpu.cfs_quota_us": quota} {
				if err := os.WriteFile(filepath.Join(d, f), []byte(strconv.Itoa(v)), 0); err != nil {
					t.Fatal(err)
				}
			}
			limited = true
			continue
		}
		if !cgroupV2() {
			continue
		}
		// The test's own cgroup hands the cpu controller down (the root
		// cgroup, or one without processes, can).
		_ = os.WriteFile(filepath.Join(filepath.Dir(d), "cgroup.subtree_control"), []byte("+cpu"), 0)
		if _, err := os.Stat(filepath.Join(d, "cpu.max")); err != nil {
			t.Skip("the cpu controller cannot be enabled for a pod cgroup here")
		}
		if err := os.WriteFile(filepath.Join(d, "cpu.max"), []byte(fmt.Sprintf("%d %d", quota, period)), 0); err != nil {
			t.Fatal(err)
		}
		limited = true
	}
	if !limited {
		t.Skip("no cpu controller")
	}
	return pod
}

// cfs reads the container's CFS quota, period and burst, from the v1 files
// or v2's cpu.max and cpu.max.burst.
func cfs(t *testing.T, b *bundle.Bundle) string {
	t.Helper()
	if q, _, ok := cgFile(t, b, "cpu.cfs_quota_us"); ok {
		p, _ := mustCgFile(t, b, "cpu.cfs_period_us")
		burst, _ := mustCgFile(t, b, "cpu.cfs_burst_us")
		return q + " " + p + " " + burst
	}
	max, _ := mustCgFile(t, b, "cpu.max")
	burst, _ := mustCgFile(t, b, "cpu.max.burst")
	return max + " " + burst
}

// TestCgroupUpdateCPUInPod: in a pod cgroup limited to one CPU, update
// changes period, quota and burst together although a lone write of the
// new period or burst against the old quota would exceed the pod's limit or
// the quota, and the kernel refuses each such write.
func TestCgroupUpdateCPUInPod(t *testing.T) {
	t.Parallel()
	pod := podCgroup(t, 100000, 100000)
	quota, period := int64(50000), uint64(100000)
	b := bundle.New(t, bundle.WithArgs("sleep", "60"), func(b *bundle.Bundle) {
		b.CgroupsPath = pod + "/" + b.CgroupsPath
		b.Spec.Linux.CgroupsPath = b.CgroupsPath
		b.Spec.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	})
	b.RunDetached(t)
	noBurst := runcBefore(t, "1.2.0") // runc 1.1 has no --cpu-burst
	for _, tc := range []struct {
		args []string
		want string // v1: quota period burst; v2: cpu.max and cpu.max.burst
	}{
		// 50000/10000 would be five CPUs: the quota must go first.
		{[]string{"--cpu-period", "10000", "--cpu-quota", "5000"}, "5000 10000 0"},
		// 5000/100000 is fine, 50000/10000 is not: the period must go first.
		{[]string{"--cpu-period", "100000", "--cpu-quota", "50000"}, "50000 100000 0"},
		// A burst above the quota in place must wait for the new quota.
		{[]string{"--cpu-quota", "60000", "--cpu-burst", "55000"}, "60000 100000 55000"},
		// A quota below the burst in place must wait for the new burst.
		{[]string{"--cpu-quota", "20000", "--cpu-burst", "10000"}, "20000 100000 10000"},
	} {
		if noBurst && slices.Contains(tc.args, "--cpu-burst") {
			continue
		}
		args := append(append([]string{"update"}, tc.args...), b.ID)
		if r := b.Run(t, args...); r.Code != 0 {
			t.Errorf("%v", r)
			continue
		}
		if got := cfs(t, b); got != tc.want {
			t.Errorf("after update %v: quota period burst = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// runcBefore reports whether the runtime under test is a runc older than
// version.
func runcBefore(t *testing.T, version string) bool {
	t.Helper()
	if !bundle.IsRunc(t) {
		return false
	}
	out, err := exec.Command(bundle.Runtime(t), "--version").Output()
	if err != nil {
		t.Fatalf("runc --version: %v", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return versionLess(strings.TrimPrefix(first, "runc version "), version)
}

// TestDevicesDeniedNodeStaysDenied (runc's "update devices [minimal
// transition rules]"): a node of linux.devices that linux.resources.devices
// denies cannot be opened, not at start and not while update rewrites the
// limits, and /dev/null stays writable all along. The process has
// CAP_SYSLOG, so only the device cgroup can refuse /dev/kmsg.
func TestDevicesDeniedNodeStaysDenied(t *testing.T) {
	t.Parallel()
	kmsg := int64(11)
	one := int64(1)
	b := bundle.New(t,
		bundle.WithArgs("sh", "-c", "exec 2>&1; while true; do head -c 100 /dev/kmsg 2>/dev/null; echo >/dev/null; done"),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: &one, Minor: &kmsg, Access: "rw"})
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SYSLOG")
			c.Effective = append(c.Effective, "CAP_SYSLOG")
			c.Permitted = append(c.Permitted, "CAP_SYSLOG")
		}))
	r := b.RunDetached(t)
	ex := b.Run(t, "exec", b.ID, "sh", "-c", "head -c 1 /dev/kmsg")
	if ex.Code == 0 || !strings.Contains(ex.Stderr, "Operation not permitted") {
		t.Errorf("/dev/kmsg opened although linux.resources.devices denies it: %v", ex)
	}
	for range 20 {
		b.MustRun(t, "update", "--pids-limit", "30", b.ID)
	}
	b.MustRun(t, "update", "--memory", "200M", "--cpu-share", "512", b.ID)
	if st := b.MustState(t); st.Status != specs.StateRunning {
		t.Fatalf("the container stopped: %s", st.Status)
	}
	// Anything read from /dev/kmsg, or an error writing /dev/null, lands here.
	out, err := os.ReadFile(r.StdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Errorf("container output %q..., want none", out[:min(len(out), 200)])
	}
}

// TestCgroupUnifiedOnV1Refused: linux.resources.unified asks for cgroup v2
// files; on a v1 host create refuses it before making anything, and so does
// update, both in runc's words.
func TestCgroupUnifiedOnV1Refused(t *testing.T) {
	t.Parallel()
	if cgroupV2() {
		t.Skip("a cgroup v2 host takes linux.resources.unified")
	}
	const want = "invalid configuration: cannot use unified on cgroup v1"
	b := bundle.New(t, bundle.WithArgs("sleep", "60"), bundle.WithSpec(func(s *specs.Spec) {
		s.Linux.Resources.Unified = map[string]string{"pids.max": "10"}
	}))
	r := b.Run(t, "create", "--bundle", b.Dir, b.ID)
	if r.Code == 0 {
		t.Fatalf("create with linux.resources.unified on cgroup v1 succeeded")
	}
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("create: want %q, got %v", want, r)
	}
	b.CheckGone(t)

	b.Edit(t, func(s *specs.Spec) { s.Linux.Resources.Unified = nil })
	b.RunDetached(t)
	stdin := tempInput(t, `{"unified":{"pids.max":"10"}}`)
	r = b.RunWith(t, bundle.RunOpts{Stdin: stdin}, "update", "-r", "-", b.ID)
	if r.Code == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("update -r {\"unified\":...}: want %q, got %v", want, r)
	}
}
