package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The seed scenarios: each resource limit is shown to bite, from the kernel's
// side (the cgroup files on the host, an OOM kill, EAGAIN, throttling, EPERM),
// on cgroup v1 and v2 alike.

// withCgroupNS gives the container its own cgroup namespace, so that its
// /sys/fs/cgroup shows its own cgroup's files (v2: at the top; v1: per hierarchy).
func withCgroupNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
}

// insideCat is a shell fragment printing the first of the files (relative to
// the container's /sys/fs/cgroup) that can be read.
func insideCat(files ...string) string {
	var alts []string
	for _, f := range files {
		alts = append(alts, "cat /sys/fs/cgroup/"+f+" 2>/dev/null")
	}
	return "{ " + strings.Join(alts, " || ") + " || echo none; }"
}

// cgroupV2 reports a pure cgroup v2 host (the devices controller is eBPF).
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// waitRunning polls `state` until the container runs; the container may not
// exist yet when it starts.
func waitRunning(t *testing.T, b *bundle.Bundle, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if st, _, ok := b.State(t); ok && st.Status == specs.StateRunning {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s not running after %v", b.ID, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// watchOOM runs `events --interval INTERVAL ID` and reports on the returned
// channel when an {"type":"oom"} line for the container arrives (nil), or an
// error: a line that is not JSON, an oom event for another id, or the stream
// ending without one.
func watchOOM(t *testing.T, b *bundle.Bundle, interval string) <-chan error {
	t.Helper()
	cmd := exec.Command(bundle.Runtime(t), "--root", b.Root, "events", "--interval", interval, b.ID)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev cgEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				found <- fmt.Errorf("events line %q: %w", sc.Bytes(), err)
				return
			}
			if ev.Type == "oom" {
				if ev.ID != b.ID {
					found <- errors.New("oom event with id " + ev.ID)
				} else {
					found <- nil
				}
				return
			}
		}
		found <- errors.New("events ended without an oom event")
	}()
	return found
}

// waitOutput polls a detached container's stdout until it holds want.
func waitOutput(t *testing.T, path, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), want) {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("container output %q: no %q after %v", data, want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCgroupSeedMemoryOOM: 200 MiB of memory and no swap; the init touching
// 250 MiB is OOM-killed: `run` exits 137 (SIGKILL) and `events` says "oom".
func TestCgroupSeedMemoryOOM(t *testing.T) {
	t.Parallel()
	const limit = int64(200 << 20)
	b := bundle.New(t,
		// The allocation waits for /tmp/go, so that `events` watches before it.
		bundle.WithArgs("sh", "-c", insideCat("memory.max", "memory/memory.limit_in_bytes")+
			"; while [ ! -e /tmp/go ]; do sleep 0.05; done; exec /bin/probe alloc 250"),
		bundle.WithSpec(func(s *specs.Spec) {
			l, swap := limit, limit // swap is memory+swap: no swap beyond the limit
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &l, Swap: &swap}
			withCgroupNS(s)
		}))
	res := make(chan bundle.Result, 1)
	go func() { res <- b.Run(t, "run", "--bundle", b.Dir, b.ID) }()
	waitRunning(t, b, 20*time.Second)

	if v, n := mustCgFile(t, b, "memory.max", "memory.limit_in_bytes"); v != strconv.FormatInt(limit, 10) {
		t.Errorf("host %s = %s, want %d", n, v, limit)
	}
	if v, n, ok := cgFile(t, b, "memory.swap.max", "memory.memsw.limit_in_bytes"); ok {
		want := strconv.FormatInt(limit, 10)
		if n == "memory.swap.max" {
			want = "0"
		}
		if v != want {
			t.Errorf("host %s = %s, want %s", n, v, want)
		}
	}
	oom := watchOOM(t, b, "1s")
	// events subscribes asynchronously: give it a moment before the allocation.
	time.Sleep(500 * time.Millisecond)
	if err := os.WriteFile(filepath.Join(b.Rootfs, "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	var r bundle.Result
	select {
	case r = <-res:
	case <-time.After(bundle.CommandTimeout + 5*time.Second):
		t.Fatal("run did not return")
	}
	if r.Code != 137 {
		t.Errorf("run exit %d, want 137 (SIGKILL by the OOM killer)\n%v", r.Code, r)
	}
	if strings.Contains(r.Stdout, "allocated") {
		t.Errorf("the 250 MiB allocation survived a 200 MiB limit: %q", r.Stdout)
	}
	if inside := strings.SplitN(r.Stdout, "\n", 2)[0]; inside != strconv.FormatInt(limit, 10) {
		t.Errorf("memory limit seen inside the cgroup namespace = %q, want %d", inside, limit)
	}
	select {
	case err := <-oom:
		if err != nil {
			t.Errorf("events ended without an oom event for %s", b.ID)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no oom event within 10s of the kill")
	}
}

// TestCgroupSeedPids: at the pids limit, fork fails with EAGAIN. The probe's
// own threads count against the limit too, so fewer than limit children start.
func TestCgroupSeedPids(t *testing.T) {
	t.Parallel()
	const limit = 16
	b := bundle.New(t,
		bundle.WithArgs("sh", "-c", insideCat("pids.max", "pids/pids.max")+"; /bin/probe fork 64; exec sleep 60"),
		bundle.WithSpec(func(s *specs.Spec) {
			l := int64(limit)
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &l}
			withCgroupNS(s)
		}))
	r := b.RunDetached(t)
	out := waitOutput(t, r.StdoutPath, "forked", 20*time.Second)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != strconv.Itoa(limit) {
		t.Errorf("pids.max seen inside the cgroup namespace = %q, want %d", lines[0], limit)
	}
	if len(lines) < 2 {
		t.Fatalf("no fork report in %q", out)
	}
	forked, errno, ok := parseForked(lines[1])
	if !ok || errno != "EAGAIN" {
		t.Fatalf("probe fork: %q, want \"forked K errno EAGAIN\"", lines[1])
	}
	if forked < 1 || forked >= limit {
		t.Errorf("%d children started under pids.max %d, want 1..%d", forked, limit, limit-1)
	}
	if v, _ := mustCgFile(t, b, "pids.max"); v != strconv.Itoa(limit) {
		t.Errorf("host pids.max = %s, want %d", v, limit)
	}
	if v, _ := mustCgFile(t, b, "pids.events"); !strings.HasPrefix(v, "max ") || v == "max 0" {
		t.Errorf("host pids.events = %q, want a non-zero max count", v)
	}
	if v, _ := mustCgFile(t, b, "pids.current"); v == "" || v == "0" {
		t.Errorf("host pids.current = %q with the children alive", v)
	}
}

// parseForked parses the probe's "forked K errno NAME".
func parseForked(line string) (forked int, errno string, ok bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "forked" || f[2] != "errno" {
		return 0, "", false
	}
	n, err := strconv.Atoi(f[1])
	return n, f[3], err == nil
}

// TestCgroupSeedCPUQuota: a busy loop under a 10% quota is throttled: the
// nr_throttled count of cpu.stat grows while it runs.
func TestCgroupSeedCPUQuota(t *testing.T) {
	t.Parallel()
	quota, period := int64(10000), uint64(100000)
	b := bundle.New(t,
		bundle.WithArgs("sh", "-c", "while :; do :; done"),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
		}))
	b.RunDetached(t)

	if v, n := mustCgFile(t, b, "cpu.max", "cpu.cfs_quota_us"); (n == "cpu.max" && v != "10000 100000") || (n == "cpu.cfs_quota_us" && v != "10000") {
		t.Errorf("host %s = %q, want a 10000us quota per 100000us", n, v)
	}
	first := nrThrottled(t, b)
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(300 * time.Millisecond)
		now := nrThrottled(t, b)
		if now > first && now >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nr_throttled %d -> %d in 10s of a busy loop under a 10%% quota", first, now)
		}
	}
}

func nrThrottled(t *testing.T, b *bundle.Bundle) int {
	t.Helper()
	v, _ := mustCgFile(t, b, "cpu.stat")
	for _, l := range strings.Split(v, "\n") {
		if n, ok := strings.CutPrefix(l, "nr_throttled "); ok {
			i, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("cpu.stat line %q", l)
			}
			return i
		}
	}
	t.Fatalf("cpu.stat has no nr_throttled:\n%s", v)
	return 0
}

// TestCgroupSeedDevices: the device rules decide whether an open reaches the
// driver. The container makes its own node for c 1:6 (a minor of "mem" with no
// driver): where the rules let the write through, the kernel answers ENXIO;
// where they deny it, the device cgroup (v1 list, v2 eBPF) answers EPERM.
// The runtimes' default rules (appended after the spec's, as runc does) keep
// /dev/null usable throughout, so "deny /dev/null" cannot be expressed in a
// spec; c 1:6 stands in for it.
func TestCgroupSeedDevices(t *testing.T) {
	t.Parallel()
	rule := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"deny all", []specs.LinuxDeviceCgroup{denyAll}, "EPERM"},
		{"allow c 1:6", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, 6, "rw")}, "ENXIO"},
		{"allow then deny c 1:6 w", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, 6, "rw"), rule(false, "c", 1, 6, "w")}, "EPERM"},
		{"allow all, deny c 1:6", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}, rule(false, "c", 1, 6, "rw")}, "EPERM"},
		// v1 cannot remove c 1:6 from an allowed c *:* (it drops only exact
		// entries): a runtime must refuse that rule there, never ignore it.
		{"allow c *:*, deny c 1:6", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", -1, -1, "rwm"), rule(false, "c", 1, 6, "rwm")}, "EPERM or refused on v1"},
		{"allow c 1:*", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", 1, -1, "w")}, "ENXIO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t,
				bundle.WithArgs("sh", "-c", "busybox mknod /dev/six c 1 6 || exit 3; /bin/probe write /dev/six x; /bin/probe write /dev/null x"),
				bundle.WithSpec(func(s *specs.Spec) {
					s.Linux.Resources.Devices = tc.rules
					c := s.Process.Capabilities
					c.Bounding = append(c.Bounding, "CAP_MKNOD")
					c.Effective = append(c.Effective, "CAP_MKNOD")
					c.Permitted = append(c.Permitted, "CAP_MKNOD")
				}))
			r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
			want := tc.want
			if w, v1only, ok := strings.Cut(want, " or refused on v1"); ok && v1only == "" {
				want = w
				if !cgroupV2() && r.Code != 0 && r.Stdout == "" {
					return // refused before the container ran
				}
			}
			if r.Code == 3 {
				t.Fatalf("mknod c 1 6 failed in the container: %v", r)
			}
			if got := strings.Fields(r.Stdout); len(got) != 2 || got[0] != want || got[1] != "ok" {
				t.Errorf("write /dev/six (c 1:6), write /dev/null = %q, want [%s ok]\n%v", got, want, r)
			}
		})
	}
}
