// Command cgbench times the cgroup phases of a container's life through the
// cgroups.Manager interface (measurement only, not shipped).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func p[T any](v T) *T { return &v }

func main() {
	n := flag.Int("n", 20, "iterations")
	join := flag.Bool("join", true, "move a process in (v1 create path; v2 uses CLONE_INTO_CGROUP)")
	flag.Parse()
	sleeper := exec.Command("sleep", "100000")
	if err := sleeper.Start(); err != nil {
		panic(err)
	}
	defer sleeper.Process.Kill()
	rules := []configs.DeviceRule{{Allow: false, Type: 'a', Major: -1, Minor: -1, Access: "rwm"}}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}, {136, -1}} {
		rules = append(rules, configs.DeviceRule{Allow: true, Type: 'c', Major: d[0], Minor: d[1], Access: "rwm"})
	}
	rules = append(rules, configs.DeviceRule{Allow: true, Type: 'c', Major: -1, Minor: -1, Access: "m"}, configs.DeviceRule{Allow: true, Type: 'b', Major: -1, Minor: -1, Access: "m"})
	res := &configs.Resources{
		Devices: rules,
		Memory:  &configs.Memory{Limit: p(int64(256 << 20))},
		Pids:    &configs.Pids{Limit: 100},
		CPU:     &configs.CPU{Shares: p(uint64(512))},
	}
	out := map[string][]float64{}
	ms := func(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
	for i := 0; i < *n; i++ {
		cfg := &configs.Cgroup{Path: "cgbench-" + strconv.Itoa(os.Getpid()), Resources: res}
		t := time.Now()
		m, err := cgroups.New(cfg, "x")
		if err != nil {
			panic(err)
		}
		if err := m.Apply(-1); err != nil {
			panic(err)
		}
		out["create"] = append(out["create"], ms(t))
		if *join {
			t = time.Now()
			if err := m.Apply(sleeper.Process.Pid); err != nil {
				panic(err)
			}
			out["join"] = append(out["join"], ms(t))
		}
		t = time.Now()
		if err := m.Set(res); err != nil {
			panic(err)
		}
		out["limits"] = append(out["limits"], ms(t))
		paths := m.Paths()
		if *join {
			// back to where it came from, outside the timed phases
			for _, dir := range paths {
				_ = os.WriteFile(filepath.Dir(dir)+"/cgroup.procs", []byte(strconv.Itoa(sleeper.Process.Pid)), 0)
			}
		}
		t = time.Now()
		l, err := cgroups.Load(paths)
		if err != nil {
			panic(err)
		}
		if err := l.Destroy(); err != nil {
			panic(err)
		}
		out["delete"] = append(out["delete"], ms(t))
	}
	json.NewEncoder(os.Stdout).Encode(out)
	fmt.Fprintln(os.Stderr, "ok")
}
