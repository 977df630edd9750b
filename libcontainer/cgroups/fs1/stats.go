package fs1

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
)

// Stats reads the counters of every mounted controller; the part of a
// controller that is not mounted stays zero.
func (m *Manager) Stats() (*cgroups.Stats, error) {
	s := &cgroups.Stats{Hugetlb: map[string]cgroups.Hugetlb{}}
	for _, c := range []struct {
		ctrl string
		stat func(dir string, s *cgroups.Stats) error
	}{
		{"cpu", statCPU},
		{"cpuacct", statCpuacct},
		{"memory", statMemory},
		{"pids", cgfile.StatPids},
		{"blkio", statBlkio},
		{"hugetlb", statHugetlb},
	} {
		dir := m.Path(c.ctrl)
		if dir == "" {
			continue
		}
		if err := c.stat(dir, s); err != nil {
			return nil, fmt.Errorf("%s stats: %w", c.ctrl, err)
		}
	}
	return s, nil
}

// userHZ is the unit of cpuacct.stat: the kernel reports clock_t ticks at
// USER_HZ, which is 100 on every architecture Linux exports to userspace.
const userHZ = 100

// statCpuacct reads total and per-CPU usage (ns) and the user/system split.
func statCpuacct(dir string, s *cgroups.Stats) error {
	u := &s.CPU.Usage
	total, err := cgfile.ReadUint(dir, "cpuacct.usage")
	if err != nil {
		return err
	}
	u.Total = total
	for _, f := range []struct {
		name string
		dst  *[]uint64
	}{
		{"cpuacct.usage_percpu", &u.Percpu},
		{"cpuacct.usage_percpu_sys", &u.PercpuKernel},
		{"cpuacct.usage_percpu_user", &u.PercpuUser},
	} {
		v, err := cgfile.ReadFile(dir, f.name)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return err
		}
		if *f.dst, err = cgfile.ParseUints(filepath.Join(dir, f.name), v); err != nil {
			return err
		}
	}
	kv, err := cgfile.ReadKeyed(dir, "cpuacct.stat")
	if err != nil {
		return err
	}
	u.User = kv["user"] * (1e9 / userHZ)
	u.Kernel = kv["system"] * (1e9 / userHZ)
	return nil
}

// statBlkio reads the recursive per-device byte and operation counts. CFQ
// (gone since 5.0) and BFQ keep their own counters, only for devices they
// schedule; the throttle counters cover every device. The first file that
// has entries wins, as in runc.
func statBlkio(dir string, s *cgroups.Stats) error {
	for _, prefix := range []string{"blkio.", "blkio.bfq.", "blkio.throttle."} {
		bytes, err := blkioEntries(dir, prefix+"io_service_bytes_recursive")
		if err != nil {
			return err
		}
		if len(bytes) == 0 {
			continue
		}
		ops, err := blkioEntries(dir, prefix+"io_serviced_recursive")
		if err != nil {
			return err
		}
		s.Blkio.IoServiceBytesRecursive, s.Blkio.IoServicedRecursive = bytes, ops
		return nil
	}
	return nil
}

// blkioEntries parses "MAJ:MIN Op value" lines; a missing file is empty.
func blkioEntries(dir, name string) ([]cgroups.BlkioEntry, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroups.BlkioEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue // the trailing "Total N" line
		}
		major, minor, err := cgfile.ParseDevice(fields[0])
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.Name(), err)
		}
		v, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s: bad value in %q", f.Name(), sc.Text())
		}
		out = append(out, cgroups.BlkioEntry{Major: major, Minor: minor, Op: fields[1], Value: v})
	}
	return out, sc.Err()
}

// statHugetlb reads every page size the kernel offers.
func statHugetlb(dir string, s *cgroups.Stats) error {
	files, err := filepath.Glob(filepath.Join(dir, "hugetlb.*.usage_in_bytes"))
	if err != nil {
		return err
	}
	for _, f := range files {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "hugetlb."), ".usage_in_bytes")
		var h cgroups.Hugetlb
		for _, v := range []struct {
			file string
			dst  *uint64
		}{
			{"usage_in_bytes", &h.Usage},
			{"max_usage_in_bytes", &h.Max},
			{"failcnt", &h.Failcnt},
		} {
			if *v.dst, err = cgfile.ReadUint(dir, "hugetlb."+size+"."+v.file); err != nil {
				return err
			}
		}
		s.Hugetlb[size] = h
	}
	return nil
}
