package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// params sizes the phases; the defaults fit ~3 minutes for three runtimes on
// 2 cores, -quick ~30 s.
type params struct {
	Warm       int   `json:"warmup"`      // discarded `run`s per runtime
	Run        int   `json:"run"`         // `run true` samples per runtime
	Life       int   `json:"life"`        // create/start/delete samples
	Exec       int   `json:"exec"`        // exec samples
	Conc       int   `json:"conc"`        // containers per concurrency round
	ConcP      int   `json:"conc_p"`      // at a time
	ConcRounds int   `json:"conc_rounds"` // rounds (median reported)
	Held       int   `json:"held"`        // created containers for the memory figure
	Scale      []int `json:"scale"`       // created containers per `list` point
	ScaleReps  int   `json:"scale_reps"`  // `list` samples per point
	GrowP      int   `json:"grow_p"`      // parallel untimed creates/deletes
	Seccomp    int   `json:"seccomp"`     // `run` samples with a seccomp profile
}

func defaultParams(quick bool) params {
	if quick {
		return params{Warm: 2, Run: 10, Life: 8, Exec: 8, Conc: 50, ConcP: 8, ConcRounds: 1,
			Held: 10, Scale: []int{100}, ScaleReps: 5, GrowP: 4, Seccomp: 5}
	}
	return params{Warm: 3, Run: 60, Life: 30, Exec: 30, Conc: 50, ConcP: 8, ConcRounds: 3,
		Held: 20, Scale: []int{100, 500}, ScaleReps: 10, GrowP: 4, Seccomp: 20}
}

// phaseErrors remembers failures per runtime within one phase: the first
// one becomes a note; after maxFails the runtime sits the phase out.
type phaseErrors struct {
	e     *benchEnv
	phase string
	mu    sync.Mutex
	n     map[string]int
}

const maxFails = 3

func (e *benchEnv) phaseErrors(phase string) *phaseErrors {
	return &phaseErrors{e: e, phase: phase, n: map[string]int{}}
}

func (pe *phaseErrors) add(rt *runtime, err error) {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	pe.n[rt.Name]++
	if pe.n[rt.Name] == 1 {
		pe.e.res.note("%s: %s failed: %v", rt.Name, pe.phase, err)
		pe.e.logf("%s: %s failed: %v", rt.Name, pe.phase, err)
	}
}

func (pe *phaseErrors) out(rt *runtime) bool {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return pe.n[rt.Name] >= maxFails
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (e *benchEnv) runPhases() error {
	phases := []struct {
		name string
		f    func() error
	}{
		{"run", e.phaseRun},
		{"seccomp", e.phaseSeccomp},
		{"life", e.phaseLife},
		{"exec", e.phaseExec},
		{"conc", e.phaseConc},
		{"mem", e.phaseMem},
		{"scale", e.phaseScale},
	}
	for _, ph := range phases {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		e.logf("phase %s", ph.name)
		if err := ph.f(); err != nil {
			return fmt.Errorf("phase %s: %w", ph.name, err)
		}
		e.logf("phase %s done in %.1fs", ph.name, time.Since(start).Seconds())
	}
	return nil
}

// phaseRun: `run` of busybox true, foreground; warm-up rounds are discarded.
func (e *benchEnv) phaseRun() error {
	return e.timeRuns("run", "run", e.tmpl, e.p.Warm, e.p.Run, func(rt *runtime, res result) {
		e.res.add("run.wall", rt.Name, ms(res.Wall))
		e.res.add("run.cpu", rt.Name, ms(res.CPU))
	})
}

// timeRuns runs busybox true in the foreground from configs made of tmpl,
// warm+n rounds of every runtime, and hands record the results of the last n.
func (e *benchEnv) timeRuns(phase, idPrefix string, tmpl map[string]any, warm, n int, record func(*runtime, result)) error {
	pe := e.phaseErrors(phase)
	for i := 0; i < warm+n; i++ {
		for _, rt := range e.active() {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if pe.out(rt) {
				continue
			}
			id := fmt.Sprintf("%s-%d", idPrefix, i)
			b, err := rt.prepareFrom(tmpl, id, "true")
			if err != nil {
				return err
			}
			res, err := rt.run("run", "--bundle", b, id)
			if err != nil {
				pe.add(rt, err)
			} else if i >= warm {
				record(rt, res)
			}
			if rt.exists(id) {
				_, _ = rt.run("delete", "-f", id)
			}
		}
	}
	return nil
}

// phaseLife: create --pid-file, start, wait for the process to exit, delete.
func (e *benchEnv) phaseLife() error {
	pe := e.phaseErrors("create/start/delete")
	for i := 0; i < e.p.Life; i++ {
		for _, rt := range e.active() {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if pe.out(rt) {
				continue
			}
			id := fmt.Sprintf("life-%d", i)
			if err := e.lifeOnce(rt, id); err != nil {
				pe.add(rt, err)
				_, _ = rt.run("delete", "-f", id)
			}
		}
	}
	return nil
}

func (e *benchEnv) lifeOnce(rt *runtime, id string) error {
	b, err := rt.prepare(id, "true")
	if err != nil {
		return err
	}
	pidFile := filepath.Join(b, "pid")
	create, err := rt.run("create", "--bundle", b, "--pid-file", pidFile, id)
	if err != nil {
		return err
	}
	pid, err := readPidFile(pidFile)
	if err != nil {
		return err
	}
	start, err := rt.run("start", id)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := waitExit(pid, 10*time.Second); err != nil {
		return err
	}
	wait := time.Since(t0)
	del, err := rt.run("delete", id)
	if err != nil {
		return err
	}
	e.res.add("life.create", rt.Name, ms(create.Wall))
	e.res.add("life.start", rt.Name, ms(start.Wall))
	e.res.add("life.wait", rt.Name, ms(wait))
	e.res.add("life.delete", rt.Name, ms(del.Wall))
	return nil
}

// phaseExec: `exec true` into one running `sleep` container per runtime. A
// runtime whose exec fails (ocirun has none yet) is reported as n/a.
func (e *benchEnv) phaseExec() error {
	const id = "exec-sleep"
	var rts []*runtime
	for _, rt := range e.active() {
		b, err := rt.prepare(id, "sleep", "3600")
		if err != nil {
			return err
		}
		if _, err := rt.run("create", "--bundle", b, id); err != nil {
			e.res.note("%s: exec: could not create the sleep container: %v", rt.Name, err)
			continue
		}
		rts = append(rts, rt)
		if _, err := rt.run("start", id); err != nil {
			e.res.note("%s: exec: could not start the sleep container: %v", rt.Name, err)
			continue
		}
	}
	defer func() {
		for _, rt := range rts {
			_, _ = rt.run("delete", "-f", id)
		}
	}()
	na := map[string]bool{}
	for i := 0; i < e.p.Exec; i++ {
		for _, j := range e.rng.Perm(len(rts)) {
			rt := rts[j]
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if na[rt.Name] {
				continue
			}
			res, err := rt.run("exec", id, "true")
			if err != nil {
				na[rt.Name] = true
				e.res.note("%s: exec n/a: %v", rt.Name, err)
				continue
			}
			e.res.add("exec.wall", rt.Name, ms(res.Wall))
			e.res.add("exec.cpu", rt.Name, ms(res.CPU))
		}
	}
	return nil
}

// phaseConc: Conc × (create && start), ConcP at a time; total wall per round.
func (e *benchEnv) phaseConc() error {
	pe := e.phaseErrors("concurrent create+start")
	for r := 0; r < e.p.ConcRounds; r++ {
		for _, rt := range e.active() {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			ids := make([]string, e.p.Conc)
			bundles := make([]string, e.p.Conc)
			for k := range ids {
				ids[k] = fmt.Sprintf("conc%d-%d", r, k)
				b, err := rt.prepare(ids[k], "true")
				if err != nil {
					return err
				}
				bundles[k] = b
			}
			var failed atomic.Int32
			t0 := time.Now()
			err := parallel(len(ids), e.p.ConcP, func(k int) error {
				_, err := rt.run("create", "--bundle", bundles[k], ids[k])
				if err == nil {
					_, err = rt.run("start", ids[k])
				}
				if err != nil {
					failed.Add(1)
				}
				return err
			})
			wall := time.Since(t0)
			if err != nil {
				// A partial round is not comparable: no sample, but say how much failed.
				pe.add(rt, fmt.Errorf("%d of %d in round %d: %w", failed.Load(), len(ids), r, err))
			} else {
				e.res.add("conc.wall", rt.Name, wall.Seconds())
			}
			t0 = time.Now()
			err = parallel(len(ids), e.p.ConcP, func(k int) error {
				_, err := rt.run("delete", "-f", ids[k])
				return err
			})
			if err == nil {
				e.res.add("conc.delete", rt.Name, time.Since(t0).Seconds())
			}
		}
	}
	return nil
}

// phaseMem: Held created (never started) containers per runtime, one runtime
// at a time: growth of the bench's memory cgroup, and PSS of the processes
// in each container's cgroup leaf.
func (e *benchEnv) phaseMem() error {
	for _, rt := range e.active() {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		err := e.memOnce(rt)
		if err != nil {
			e.res.note("%s: memory phase failed: %v", rt.Name, err)
		}
		if err := rt.deleteAll(e.p.GrowP); err != nil {
			e.res.note("%s: memory phase cleanup: %v", rt.Name, err)
		}
	}
	return nil
}

func (e *benchEnv) memOnce(rt *runtime) error {
	before, err := e.host.memUsage(e.base)
	if err != nil {
		return err
	}
	pids := make([]int, e.p.Held)
	for k := range pids {
		id := fmt.Sprintf("held-%d", k)
		b, err := rt.prepare(id, "sleep", "3600")
		if err != nil {
			return err
		}
		pidFile := filepath.Join(b, "pid")
		if _, err := rt.run("create", "--bundle", b, "--pid-file", pidFile, id); err != nil {
			return err
		}
		if pids[k], err = readPidFile(pidFile); err != nil {
			return err
		}
	}
	// Let the runtimes' exited processes be uncharged before reading.
	time.Sleep(200 * time.Millisecond)
	after, err := e.host.memUsage(e.base)
	if err != nil {
		return err
	}
	e.res.add("mem.cgroup", rt.Name, float64(after-before)/1024/float64(e.p.Held))
	for k, pid := range pids {
		rel := rt.cgroupRel(fmt.Sprintf("held-%d", k))
		procs, err := e.host.procsIn(rel)
		if err != nil {
			return err
		}
		if !containsInt(procs, pid) {
			return fmt.Errorf("container pid %d not in its cgroup %s (holds %v)", pid, rel, procs)
		}
		pss, err := pssKB(procs)
		if err != nil {
			return err
		}
		e.res.add("mem.pss", rt.Name, float64(pss))
		e.res.add("mem.procs", rt.Name, float64(len(procs)))
	}
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// phaseScale: `list` with N created containers per runtime, all runtimes
// holding theirs at once so that the samples interleave.
func (e *benchEnv) phaseScale() error {
	have := map[string]int{}
	defer func() {
		for _, rt := range e.rts {
			if err := rt.deleteAll(e.p.GrowP); err != nil {
				e.res.note("%s: scale cleanup: %v", rt.Name, err)
			}
		}
	}()
	for _, n := range e.p.Scale {
		if msg := e.scaleMemCheck(n, have); msg != "" {
			e.res.note("list with %d containers skipped: %s", n, msg)
			return nil
		}
		for _, rt := range e.active() {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			from := have[rt.Name]
			err := parallel(n-from, e.p.GrowP, func(k int) error {
				id := fmt.Sprintf("scale-%d", from+k)
				b, err := rt.prepare(id, "sleep", "3600")
				if err != nil {
					return err
				}
				_, err = rt.run("create", "--bundle", b, id)
				return err
			})
			have[rt.Name] = n
			if err != nil {
				rt.Disabled = fmt.Sprintf("filling %d containers failed: %v", n, err)
				e.res.note("%s: list: %s", rt.Name, rt.Disabled)
			}
		}
		key := fmt.Sprintf("list.%d", n)
		for r := 0; r < e.p.ScaleReps; r++ {
			for _, rt := range e.active() {
				if err := e.ctx.Err(); err != nil {
					return err
				}
				res, err := rt.run("list")
				if err != nil {
					e.res.note("%s: list failed: %v", rt.Name, err)
					continue
				}
				e.res.add(key, rt.Name, ms(res.Wall))
			}
		}
	}
	return nil
}

// scaleMemCheck estimates the memory still to be used from the memory
// phase's cost per container and refuses to use more than half of what is
// available.
func (e *benchEnv) scaleMemCheck(n int, have map[string]int) string {
	var needKB float64
	for _, rt := range e.active() {
		per := median(e.res.get("mem.cgroup", rt.Name))
		if per <= 0 {
			per = 8 * 1024 // no figure: assume a generous 8 MiB
		}
		needKB += per * float64(n-have[rt.Name])
	}
	avail, err := memAvailableKB()
	if err != nil {
		return ""
	}
	if needKB > float64(avail)/2 {
		return fmt.Sprintf("needs ~%.0f MiB, more than half of MemAvailable (%d MiB)", needKB/1024, avail/1024)
	}
	return ""
}

func memAvailableKB() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemAvailable")
}
