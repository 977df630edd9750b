package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

func numCPU() int { return goruntime.NumCPU() }

// chartData renders one row per metric with every runtime's ratio to ocirun
// ("?" where n/a), and the power-of-two y range that holds them all.
func chartData(t table) (data string, lo, hi float64) {
	var b strings.Builder
	b.WriteString("# metric")
	for _, rt := range t.Runtimes {
		fmt.Fprintf(&b, " %q", rt)
	}
	b.WriteString("\n")
	lo, hi = 1, 1
	for i, m := range t.Metrics {
		fmt.Fprintf(&b, "%q", m.Key)
		for j := range t.Runtimes {
			r := t.ratio(i, j)
			if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
				b.WriteString(" ?")
				continue
			}
			lo, hi = math.Min(lo, r), math.Max(hi, r)
			fmt.Fprintf(&b, " %.4f", r)
		}
		b.WriteString("\n")
	}
	lo = math.Pow(2, math.Floor(math.Log2(lo))-0.5)
	hi = math.Pow(2, math.Ceil(math.Log2(hi))+0.5)
	return b.String(), lo, hi
}

// writeChart draws grouped bars of each runtime's ratio to ocirun on a log
// scale, so that "2× slower" and "2× faster" look the same size.
func writeChart(dir string, t table) error {
	gp, err := exec.LookPath("gnuplot")
	if err != nil {
		return errors.New("gnuplot not installed (apt-get install gnuplot-nox)")
	}
	data, lo, hi := chartData(t)
	if err := os.WriteFile(filepath.Join(dir, "chart.dat"), []byte(data), 0o644); err != nil {
		return err
	}
	var plots []string
	for j, rt := range t.Runtimes {
		if j == 0 {
			plots = append(plots, fmt.Sprintf("'chart.dat' using %d:xtic(1) title %q", j+2, rt))
		} else {
			plots = append(plots, fmt.Sprintf("'' using %d title %q", j+2, rt))
		}
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1200,600 font ",10"
set output 'chart.png'
set title "time or memory relative to ocirun (ocirun = 1; log scale; above 1: more than ocirun)"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [%g:%g]
set ytics format "%%g"
set grid ytics
set xtics rotate by -30 nomirror
set key top left
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
plot %s
`, lo, hi, strings.Join(plots, ", "))
	if err := os.WriteFile(filepath.Join(dir, "chart.gp"), []byte(script), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(gp, "chart.gp")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gnuplot: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
