package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/ocirun/ocirun/specconv"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "update container resource constraints",
	ArgsUsage: "<container-id>",
	Description: `Update the cgroup limits of a running (or created, or paused) container.
With -r, the limits come from a linux.resources JSON object (unchanged values
can be omitted) read from a file or, for '-', from standard input, and every
other option is ignored. Memory sizes accept k, m, g, t suffixes (units of 1024).`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "path to the file containing the resources to update or '-' to read from the standard input"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"},
		&cli.StringFlag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (relative weight vs. other containers)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
		&cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes, or with a k/m/g/t suffix)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "Memory reservation or soft_limit (in bytes)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "(obsoleted; do not use)"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "Kernel memory limit (in bytes) for tcp buffer"},
		&cli.StringFlag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		c, err := loadContainer(ctx)
		if err != nil {
			return err
		}
		tracer.Mark("load")
		var spec *specs.LinuxResources
		if path := ctx.String("resources"); path != "" {
			spec, err = readResources(path)
		} else {
			spec, err = resourcesFromFlags(ctx)
		}
		if err != nil {
			return err
		}
		r, err := specconv.ToResources(spec)
		if err != nil {
			return err
		}
		err = c.Update(r)
		tracer.Mark("update")
		return err
	},
}

func readResources(path string) (*specs.LinuxResources, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
		defer f.Close()
		in = f
	}
	var r specs.LinuxResources
	if err := json.NewDecoder(in).Decode(&r); err != nil {
		return nil, fmt.Errorf("--resources %s: decode linux.resources JSON: %w", path, err)
	}
	return &r, nil
}

// resourcesFromFlags builds the request from runc's update flags; only the
// flags given are set.
func resourcesFromFlags(ctx *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	if ctx.IsSet("kernel-memory") {
		logger.Warn("--kernel-memory is obsolete and ignored: the kernel no longer supports a separate kernel memory limit")
	}
	sizes := []struct {
		flag string
		dst  func() **int64
	}{
		{"memory", func() **int64 { return &mem().Limit }},
		{"memory-reservation", func() **int64 { return &mem().Reservation }},
		{"memory-swap", func() **int64 { return &mem().Swap }},
		{"kernel-memory-tcp", func() **int64 { return &mem().KernelTCP }},
	}
	for _, s := range sizes {
		if !ctx.IsSet(s.flag) {
			continue
		}
		v, err := parseSize(ctx.String(s.flag))
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", s.flag, err)
		}
		*s.dst() = &v
	}
	uints := []struct {
		flag string
		bits int
		dst  func(uint64)
	}{
		{"cpu-share", 64, func(v uint64) { cpu().Shares = &v }},
		{"cpu-period", 64, func(v uint64) { cpu().Period = &v }},
		{"cpu-burst", 64, func(v uint64) { cpu().Burst = &v }},
		{"cpu-rt-period", 64, func(v uint64) { cpu().RealtimePeriod = &v }},
		{"blkio-weight", 16, func(v uint64) { w := uint16(v); r.BlockIO = &specs.LinuxBlockIO{Weight: &w} }},
	}
	for _, u := range uints {
		if !ctx.IsSet(u.flag) {
			continue
		}
		v, err := strconv.ParseUint(ctx.String(u.flag), 10, u.bits)
		if err != nil {
			return nil, fmt.Errorf("--%s: want an unsigned number, got %q", u.flag, ctx.String(u.flag))
		}
		u.dst(v)
	}
	ints := []struct {
		flag string
		dst  func(int64)
	}{
		{"cpu-quota", func(v int64) { cpu().Quota = &v }},
		{"cpu-rt-runtime", func(v int64) { cpu().RealtimeRuntime = &v }},
		{"cpu-idle", func(v int64) { cpu().Idle = &v }},
		{"pids-limit", func(v int64) { r.Pids = &specs.LinuxPids{Limit: &v} }},
	}
	for _, i := range ints {
		if !ctx.IsSet(i.flag) {
			continue
		}
		v, err := strconv.ParseInt(ctx.String(i.flag), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--%s: want a number, got %q", i.flag, ctx.String(i.flag))
		}
		i.dst(v)
	}
	if ctx.IsSet("cpuset-cpus") {
		cpu().Cpus = ctx.String("cpuset-cpus")
	}
	if ctx.IsSet("cpuset-mems") {
		cpu().Mems = ctx.String("cpuset-mems")
	}
	return r, nil
}

// parseSize reads a byte count as docker and runc accept it: a number,
// possibly fractional, with an optional k/m/g/t/p suffix (optionally
// followed by "b" or "ib"), in units of 1024, any case. "-1" is unlimited.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], t[i:]
	}
	mult := map[string]float64{"": 1, "b": 1}
	for n, p := range []string{"k", "m", "g", "t", "p"} {
		f := math.Pow(1024, float64(n+1))
		mult[p], mult[p+"b"], mult[p+"ib"] = f, f, f
	}
	m, ok := mult[unit]
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" || v < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 1048576, 512k, 200M, 1.5g, or -1)", s)
	}
	b := v * m
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(b), nil
}
