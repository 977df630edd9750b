package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgFile reads the first of names that exists in the container's cgroup
// dirs (v1: one per hierarchy; v2: one), so that a test can ask for the v1
// and the v2 name of the same knob. ok is false when none exists.
func cgFile(t *testing.T, b *bundle.Bundle, names ...string) (value, name string, ok bool) {
	t.Helper()
	dirs, err := bundle.CgroupDirs(b.CgroupsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		for _, d := range dirs {
			data, err := os.ReadFile(filepath.Join(d, n))
			if err == nil {
				return strings.TrimSpace(string(data)), n, true
			}
		}
	}
	return "", "", false
}

func mustCgFile(t *testing.T, b *bundle.Bundle, names ...string) (string, string) {
	t.Helper()
	v, n, ok := cgFile(t, b, names...)
	if !ok {
		t.Fatalf("none of %v in the cgroup of %s", names, b.ID)
	}
	return v, n
}

// frozen reads the freezer: v1's freezer.state, else v2's cgroup.events.
func frozen(t *testing.T, b *bundle.Bundle) bool {
	t.Helper()
	if v, _, ok := cgFile(t, b, "freezer.state"); ok {
		return v == "FROZEN"
	}
	v, _ := mustCgFile(t, b, "cgroup.events")
	return strings.Contains(v, "frozen 1")
}

func procState(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "State:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestCgroupPauseResume(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.RunDetached(t)
	pid := b.MustState(t).Pid

	if r := b.Run(t, "resume", b.ID); r.Code == 0 {
		t.Errorf("resume of a running container succeeded: %v", r)
	}
	b.MustRun(t, "pause", b.ID)
	if st := b.MustState(t); st.Status != statePaused {
		t.Errorf("status after pause = %q, want paused", st.Status)
	}
	if !frozen(t, b) {
		t.Errorf("cgroup not frozen after pause")
	}
	// A v1-frozen task sleeps uninterruptibly in the refrigerator.
	if _, _, v1 := cgFile(t, b, "freezer.state"); v1 {
		if s := procState(pid); !strings.HasPrefix(s, "D") {
			t.Errorf("init %d state %q while paused, want D (frozen)", pid, s)
		}
	}
	if r := b.MustRun(t, "list"); !strings.Contains(r.Stdout, "paused") {
		t.Errorf("list does not show the container paused:\n%s", r.Stdout)
	}

	b.MustRun(t, "resume", b.ID)
	if st := b.MustState(t); st.Status != specs.StateRunning {
		t.Errorf("status after resume = %q, want running", st.Status)
	}
	if frozen(t, b) {
		t.Errorf("cgroup still frozen after resume")
	}
	if s := procState(pid); !strings.HasPrefix(s, "S") && !strings.HasPrefix(s, "R") {
		t.Errorf("init %d state %q after resume, want S or R", pid, s)
	}

	b.MustRun(t, "kill", b.ID, "KILL")
	b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	if r := b.Run(t, "pause", b.ID); r.Code == 0 {
		t.Errorf("pause of a stopped container succeeded: %v", r)
	} else if bundle.IsOcirun(t) && !strings.Contains(r.Stderr, "container not running") {
		t.Errorf("pause of a stopped container: want \"container not running\", got %v", r)
	}
}

// TestCgroupKillPaused: SIGKILL to a paused container must land (cgroup v1
// holds even SIGKILL for frozen tasks until they are thawed).
func TestCgroupKillPaused(t *testing.T) {
	t.Parallel()
	t.Run("kill", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.RunDetached(t)
		b.MustRun(t, "pause", b.ID)
		b.MustRun(t, "kill", b.ID, "9")
		b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	})
	t.Run("kill-all", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.RunDetached(t)
		b.MustRun(t, "pause", b.ID)
		b.MustRun(t, "kill", "--all", b.ID, "KILL")
		b.WaitStatus(t, specs.StateStopped, 5*time.Second)
	})
	t.Run("delete-force", func(t *testing.T) {
		t.Parallel()
		b := bundle.New(t, bundle.WithProbe("sleep", "60"))
		b.RunDetached(t)
		b.MustState(t) // records the pid for CheckGone
		b.MustRun(t, "pause", b.ID)
		b.MustRun(t, "delete", "--force", b.ID)
		b.CheckGone(t)
	})
}

func TestCgroupPs(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("sh", "-c", "sleep 60 & exec sleep 61"))
	b.RunDetached(t)
	pid := b.MustState(t).Pid

	var pids []int
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := b.MustRun(t, "ps", "--format", "json", b.ID)
		if err := json.Unmarshal([]byte(r.Stdout), &pids); err != nil {
			t.Fatalf("ps --format json: %v\n%v", err, r)
		}
		if len(pids) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(pids, pid) || len(pids) != 2 {
		t.Errorf("ps --format json = %v, want the init %d and its child", pids, pid)
	}

	r := b.MustRun(t, "ps", b.ID)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 3 || !slices.Contains(strings.Fields(lines[0]), "PID") {
		t.Fatalf("ps table: want a header and 2 lines, got\n%s", r.Stdout)
	}
	// procps `ps -ef` prints UID PID PPID ...; busybox ps (the VM's) ignores -ef
	// and prints PID USER ...: take the column the header names.
	col := slices.Index(strings.Fields(lines[0]), "PID")
	for _, l := range lines[1:] {
		p, _ := strconv.Atoi(strings.Fields(l)[col])
		if !slices.Contains(pids, p) {
			t.Errorf("ps table line %q is not a container process %v", l, pids)
		}
	}

	r = b.MustRun(t, "ps", b.ID, "-o", "pid,comm")
	if !strings.Contains(r.Stdout, strconv.Itoa(pid)+" sleep") && !strings.Contains(r.Stdout, " sleep") {
		t.Errorf("ps -o pid,comm:\n%s", r.Stdout)
	}
	if strings.Count(strings.TrimSpace(r.Stdout), "\n") != 2 {
		t.Errorf("ps -o pid,comm: want a header and 2 lines, got\n%s", r.Stdout)
	}
}

func TestCgroupUpdate(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithProbe("sleep", "60"))
	b.RunDetached(t)

	b.MustRun(t, "update", "--memory", "200M", "--pids-limit", "50", b.ID)
	if v, n := mustCgFile(t, b, "memory.limit_in_bytes", "memory.max"); v != "209715200" {
		t.Errorf("%s = %s after update --memory 200M, want 209715200", n, v)
	}
	if v, _ := mustCgFile(t, b, "pids.max"); v != "50" {
		t.Errorf("pids.max = %s after update --pids-limit 50, want 50", v)
	}

	b.MustRun(t, "update", "--cpu-share", "512", b.ID)
	if v, n := mustCgFile(t, b, "cpu.shares", "cpu.weight"); (n == "cpu.shares" && v != "512") || (n == "cpu.weight" && v != "20") {
		t.Errorf("%s = %s after update --cpu-share 512", n, v)
	}
	if v, n := mustCgFile(t, b, "memory.limit_in_bytes", "memory.max"); v != "209715200" {
		t.Errorf("%s = %s after update --cpu-share, want the earlier 209715200", n, v)
	}
	if bundle.IsOcirun(t) {
		// ocirun keeps the normalized config beside state.json.
		var st struct {
			Config struct {
				Cgroups struct {
					Resources struct {
						Memory struct{ Limit *int64 }
						CPU    struct{ Shares *uint64 }
						Pids   struct{ Limit int64 }
					}
				}
			}
		}
		data, err := os.ReadFile(filepath.Join(b.Root, b.ID, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &st.Config); err != nil {
			t.Fatal(err)
		}
		res := st.Config.Cgroups.Resources
		if res.Memory.Limit == nil || *res.Memory.Limit != 209715200 || res.CPU.Shares == nil || *res.CPU.Shares != 512 || res.Pids.Limit != 50 {
			t.Errorf("config.json resources not updated: %s", data)
		}
	}

	stdin, err := os.CreateTemp(t.TempDir(), "resources")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.WriteString(`{"pids":{"limit":77},"memory":{"limit":104857600}}`); err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if r := b.RunWith(t, bundle.RunOpts{Stdin: stdin}, "update", "-r", "-", b.ID); r.Code != 0 {
		t.Fatalf("%v", r)
	}
	if v, _ := mustCgFile(t, b, "pids.max"); v != "77" {
		t.Errorf("pids.max = %s after update -r -, want 77", v)
	}
	if v, n := mustCgFile(t, b, "memory.limit_in_bytes", "memory.max"); v != "104857600" {
		t.Errorf("%s = %s after update -r -, want 104857600", n, v)
	}

	if r := b.Run(t, "update", "--memory", "lots", b.ID); r.Code == 0 {
		t.Errorf("update --memory lots succeeded: %v", r)
	}
}

// statePaused is runc's extra status; the spec does not name it.
const statePaused specs.ContainerState = "paused"

type cgEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		Memory struct {
			Usage struct {
				Usage uint64 `json:"usage"`
				Limit uint64 `json:"limit"`
			} `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
		} `json:"pids"`
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
	} `json:"data"`
}

func TestCgroupEventsStats(t *testing.T) {
	t.Parallel()
	b := bundle.New(t, bundle.WithArgs("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 60"))
	b.RunDetached(t)
	time.Sleep(300 * time.Millisecond) // let it burn some cpu
	r := b.MustRun(t, "events", "--stats", b.ID)
	var ev cgEvent
	if err := json.Unmarshal([]byte(r.Stdout), &ev); err != nil {
		t.Fatalf("events --stats: %v\n%v", err, r)
	}
	if ev.Type != "stats" || ev.ID != b.ID {
		t.Errorf("events --stats: type %q id %q, want stats %s", ev.Type, ev.ID, b.ID)
	}
	if ev.Data.Memory.Usage.Usage == 0 || ev.Data.Pids.Current < 1 || ev.Data.CPU.Usage.Total == 0 {
		t.Errorf("events --stats: want memory usage, cpu total > 0 and pids.current >= 1, got %s", r.Stdout)
	}
}

// TestCgroupEventsOOM: a child of the init outgrows the 32M limit, the kernel
// kills it, and `events` reports {"type":"oom"}.
func TestCgroupEventsOOM(t *testing.T) {
	t.Parallel()
	limit := int64(32 << 20)
	b := bundle.New(t,
		bundle.WithArgs("sh", "-c", `sleep 1; sh -c 'x=a; while true; do x=$x$x; done'; exec sleep 60`),
		bundle.WithSpec(func(s *specs.Spec) {
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
		}))
	b.RunDetached(t)

	found := watchOOM(t, b, "200ms")
	select {
	case err := <-found:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(15 * time.Second):
		t.Error("no oom event within 15s")
	}
}
