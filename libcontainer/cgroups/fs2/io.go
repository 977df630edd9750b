package fs2

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setIO writes io.weight (or io.bfq.weight, which takes the v1 range as
// is, when the BFQ scheduler provides it) and io.max.
func setIO(w cgfile.Writer, b *configs.BlockIO) error {
	if b == nil {
		return nil
	}
	const f = "linux.resources.blockIO."
	if b.LeafWeight != nil {
		return errors.New(f + "leafWeight: not supported on cgroup v2")
	}
	bfq := w.Dir != "" && cgfile.Exists(w.Dir, "io.bfq.weight")
	weight := func(field string, v uint16, dev string) error {
		if v < 10 || v > 1000 {
			return fmt.Errorf("%s: %d is not in 10..1000", field, v)
		}
		if bfq {
			return w.Write(field, "io.bfq.weight", dev+strconv.Itoa(int(v)))
		}
		return w.Write(field, "io.weight", dev+strconv.FormatUint(cgroups.BlkioToIOWeight(v), 10))
	}
	if b.Weight != nil {
		if err := weight(f+"weight", *b.Weight, "default "); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		if d.LeafWeight != nil {
			return fmt.Errorf(f+"weightDevice[%d].leafWeight: not supported on cgroup v2", i)
		}
		if d.Weight != nil {
			if err := weight(fmt.Sprintf(f+"weightDevice[%d].weight", i), *d.Weight, fmt.Sprintf("%d:%d ", d.Major, d.Minor)); err != nil {
				return err
			}
		}
	}
	for _, l := range IOMaxLines(b) {
		if err := w.Write(f+"throttle*Device", "io.max", l); err != nil {
			return err
		}
	}
	return nil
}

// IOMaxLines builds one io.max line per device from the four throttle
// lists, devices in order of first mention: "maj:min rbps=N wbps=N riops=N
// wiops=N" with only the keys given; rate 0 removes a limit ("max").
func IOMaxLines(b *configs.BlockIO) []string {
	type dev struct{ major, minor int64 }
	var order []dev
	lines := map[dev]string{}
	for _, t := range []struct {
		key  string
		devs []configs.ThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			k := dev{d.Major, d.Minor}
			if _, ok := lines[k]; !ok {
				order = append(order, k)
				lines[k] = fmt.Sprintf("%d:%d", d.Major, d.Minor)
			}
			v := "max"
			if d.Rate != 0 {
				v = strconv.FormatUint(d.Rate, 10)
			}
			lines[k] += " " + t.key + "=" + v
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, lines[k])
	}
	return out
}

// statIO turns io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...") into
// v1-style per-operation entries.
func statIO(dir string, s *cgroups.Stats) error {
	if !cgfile.Exists(dir, "io.stat") {
		return nil
	}
	content, err := cgfile.ReadFile(dir, "io.stat")
	if err != nil {
		return err
	}
	ops := map[string]struct {
		op    string
		bytes bool
	}{
		"rbytes": {"Read", true}, "wbytes": {"Write", true}, "dbytes": {"Discard", true},
		"rios": {"Read", false}, "wios": {"Write", false}, "dios": {"Discard", false},
	}
	for _, l := range strings.Split(content, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		major, minor, err := cgfile.ParseDevice(f[0])
		if err != nil {
			return fmt.Errorf("parse %s/io.stat: %w", dir, err)
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			o, ok := ops[k]
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("parse %s/io.stat: bad value %q", dir, kv)
			}
			e := cgroups.BlkioEntry{Major: major, Minor: minor, Op: o.op, Value: n}
			if o.bytes {
				s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive, e)
			} else {
				s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive, e)
			}
		}
	}
	return nil
}
