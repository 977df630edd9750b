package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// refRuntime is the runtime every ratio is relative to.
const refRuntime = "ocirun"

// results holds the raw samples (ms, s, KiB or counts) per sample key and runtime.
type results struct {
	mu      sync.Mutex
	samples map[string]map[string][]float64
	notes   []string
}

func newResults() *results {
	return &results{samples: map[string]map[string][]float64{}}
}

func (r *results) add(key, rt string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.samples[key] == nil {
		r.samples[key] = map[string][]float64{}
	}
	r.samples[key][rt] = append(r.samples[key][rt], v)
}

func (r *results) get(key, rt string) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]float64(nil), r.samples[key][rt]...)
}

func (r *results) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
}

type statFunc func([]float64) float64

// median of xs; NaN when there is none.
func median(xs []float64) float64 { return quantile(xs, 0.5) }

func p95(xs []float64) float64 { return quantile(xs, 0.95) }

// quantile interpolates linearly between the closest ranks.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// metric is one row of the table: a statistic of one sample key.
type metric struct {
	Key    string
	Sample string
	Stat   statFunc
	Unit   string
	Desc   string
}

func metrics(p params) []metric {
	m := []metric{
		{"run.median", "run.wall", median, "ms", "`run` busybox true: wall, median"},
		{"run.p95", "run.wall", p95, "ms", "`run` busybox true: wall, p95"},
		{"run.cpu", "run.cpu", mean, "ms", "`run` busybox true: CPU user+sys (rusage of children), mean"},
		{"seccomp", "seccomp.wall", median, "ms", "`run` busybox true with a default-size seccomp profile: wall, median"},
		{"create", "life.create", median, "ms", "`create --pid-file`, median"},
		{"start", "life.start", median, "ms", "`start`, median"},
		{"delete", "life.delete", median, "ms", "`delete` of the exited container, median"},
		{"exec", "exec.wall", median, "ms", "`exec true` into a running sleep container, median"},
		{"conc", "conc.wall", median, "s", fmt.Sprintf("%d × create+start, %d at a time: total wall", p.Conc, p.ConcP)},
		{"mem.cgroup", "mem.cgroup", median, "KiB", fmt.Sprintf("memory cgroup growth per created container (%d held)", p.Held)},
		{"mem.pss", "mem.pss", median, "KiB", "PSS of a created container's processes, median"},
	}
	for _, n := range p.Scale {
		m = append(m, metric{fmt.Sprintf("list.%d", n), fmt.Sprintf("list.%d", n), median, "ms",
			fmt.Sprintf("`list` with %d created containers, median", n)})
	}
	return m
}

// table is the computed report: a value per metric and runtime (NaN: n/a).
type table struct {
	Runtimes []string
	Metrics  []metric
	Values   [][]float64
}

func buildTable(r *results, ms []metric, rts []string) table {
	t := table{Runtimes: rts, Metrics: ms}
	for _, m := range ms {
		row := make([]float64, len(rts))
		for j, rt := range rts {
			row[j] = m.Stat(r.samples[m.Sample][rt])
		}
		t.Values = append(t.Values, row)
	}
	return t
}

// ratio of runtime j to the reference runtime in row i (NaN if either is n/a).
func (t table) ratio(i, j int) float64 {
	ref := -1
	for k, rt := range t.Runtimes {
		if rt == refRuntime {
			ref = k
		}
	}
	if ref < 0 || t.Values[i][ref] <= 0 {
		return math.NaN()
	}
	return t.Values[i][j] / t.Values[i][ref]
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func formatRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", v)
}

// markdown renders metric × runtime, then one runtime/ocirun column per other runtime.
func (t table) markdown() string {
	var b strings.Builder
	b.WriteString("| metric | unit |")
	for _, rt := range t.Runtimes {
		fmt.Fprintf(&b, " %s |", rt)
	}
	var others []int
	for j, rt := range t.Runtimes {
		if rt != refRuntime {
			others = append(others, j)
			fmt.Fprintf(&b, " %s/%s |", rt, refRuntime)
		}
	}
	b.WriteString("\n|---|---|")
	b.WriteString(strings.Repeat("---:|", len(t.Runtimes)+len(others)))
	b.WriteString("\n")
	for i, m := range t.Metrics {
		fmt.Fprintf(&b, "| %s | %s |", m.Desc, m.Unit)
		for j := range t.Runtimes {
			fmt.Fprintf(&b, " %s |", formatValue(t.Values[i][j]))
		}
		for _, j := range others {
			fmt.Fprintf(&b, " %s |", formatRatio(t.ratio(i, j)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func nullable(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// report writes results.md, results.json and chart.png, prints the table,
// and publishes a copy when asked.
func (e *benchEnv) report() error {
	var names []string
	for _, rt := range e.rts {
		names = append(names, rt.Name)
	}
	t := buildTable(e.res, metrics(e.p), names)
	chartNote := ""
	if err := writeChart(e.outDir, t); err != nil {
		chartNote = fmt.Sprintf("chart skipped: %v", err)
		e.res.note("%s", chartNote)
	}

	var md strings.Builder
	fmt.Fprintf(&md, "# ocirun benchmark, %s\n\n", filepath.Base(e.outDir))
	mode := "default"
	if e.o.quick {
		mode = "quick"
	}
	fmt.Fprintf(&md, "Host `%s`, kernel %s, %d CPUs; %s mode; seed %d; config from `%s spec`.\n",
		hostname(), kernel(), numCPU(), mode, e.o.seed, filepath.Base(e.tmplSrc))
	for _, rt := range e.rts {
		fmt.Fprintf(&md, "- %s: `%s` (%s)\n", rt.Name, rt.Path, rt.Version)
	}
	md.WriteString("\n")
	md.WriteString(t.markdown())
	md.WriteString("\nRatios are runtime / ocirun: above 1, the runtime takes more time or memory than ocirun.\n")
	if len(e.res.notes) > 0 {
		md.WriteString("\nNotes:\n")
		for _, n := range e.res.notes {
			fmt.Fprintf(&md, "- %s\n", n)
		}
	}
	if chartNote == "" {
		md.WriteString("\n![runtime / ocirun per metric](chart.png)\n")
	}
	fmt.Print("\n" + md.String())
	if err := os.WriteFile(filepath.Join(e.outDir, "results.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	if err := e.writeJSON(t); err != nil {
		return err
	}
	if e.o.publish {
		if err := e.publish(md.String(), chartNote == ""); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "results in %s\n", e.outDir)
	return nil
}

func (e *benchEnv) writeJSON(t table) error {
	type runtimeMeta struct {
		Path     string `json:"path"`
		Version  string `json:"version"`
		Disabled string `json:"disabled,omitempty"`
	}
	type metricOut struct {
		Key    string         `json:"key"`
		Unit   string         `json:"unit"`
		Desc   string         `json:"desc"`
		Values map[string]any `json:"values"`
		Ratio  map[string]any `json:"ratio_to_ocirun"`
	}
	rtm := map[string]runtimeMeta{}
	for _, rt := range e.rts {
		rtm[rt.Name] = runtimeMeta{rt.Path, rt.Version, rt.Disabled}
	}
	var ms []metricOut
	for i, m := range t.Metrics {
		mo := metricOut{Key: m.Key, Unit: m.Unit, Desc: m.Desc, Values: map[string]any{}, Ratio: map[string]any{}}
		for j, rt := range t.Runtimes {
			mo.Values[rt] = nullable(t.Values[i][j])
			mo.Ratio[rt] = nullable(t.ratio(i, j))
		}
		ms = append(ms, mo)
	}
	out := map[string]any{
		"meta": map[string]any{
			"time":         time.Now().Format(time.RFC3339),
			"host":         hostname(),
			"kernel":       kernel(),
			"cpus":         numCPU(),
			"seed":         e.o.seed,
			"quick":        e.o.quick,
			"params":       e.p,
			"runtimes":     rtm,
			"spec_from":    e.tmplSrc,
			"cgroup_base":  e.base,
			"notes":        e.res.notes,
			"sample_units": "ms for times except conc.* (s); KiB for mem.cgroup and mem.pss",
		},
		"metrics": ms,
		"samples": e.res.samples,
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.outDir, "results.json"), b, 0o644)
}

func (e *benchEnv) publish(md string, chart bool) error {
	if err := os.MkdirAll(e.o.publishDir, 0o755); err != nil {
		return err
	}
	// The README embeds latest.png, so the copy must not point at chart.png.
	md = strings.Replace(md, "](chart.png)", "](latest.png)", 1)
	if err := os.WriteFile(filepath.Join(e.o.publishDir, "latest.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if !chart {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(e.outDir, "chart.png"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.o.publishDir, "latest.png"), b, 0o644)
}
