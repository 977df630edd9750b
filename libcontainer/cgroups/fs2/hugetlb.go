package fs2

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setHugetlb writes hugetlb.<size>.max and, on kernels with reservation
// accounting (5.7+), the same limit to .rsvd.max so that reserved but not
// yet faulted pages count as well.
func setHugetlb(w cgfile.Writer, limits []configs.HugepageLimit) error {
	for i, l := range limits {
		field := fmt.Sprintf("linux.resources.hugepageLimits[%d]", i)
		if !cgfile.ValidName(l.Pagesize) {
			return fmt.Errorf("%s.pageSize: invalid page size %q", field, l.Pagesize)
		}
		v := strconv.FormatUint(l.Limit, 10)
		if err := w.Write(field, "hugetlb."+l.Pagesize+".max", v); err != nil {
			return err
		}
		if rsvd := "hugetlb." + l.Pagesize + ".rsvd.max"; cgfile.Exists(w.Dir, rsvd) {
			if err := w.Write(field, rsvd, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// statHugetlb reads every page size the kernel offers; the "max" count of
// hugetlb.<size>.events (allocations refused by the limit) is the failcnt.
func statHugetlb(dir string, s *cgroups.Stats) error {
	files, err := filepath.Glob(filepath.Join(dir, "hugetlb.*.current"))
	if err != nil {
		return err
	}
	for _, f := range files {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "hugetlb."), ".current")
		if strings.Contains(size, ".") {
			continue // hugetlb.<size>.rsvd.current
		}
		var h cgroups.Hugetlb
		if h.Usage, err = cgfile.ReadUint(dir, "hugetlb."+size+".current"); err != nil {
			return err
		}
		ev, err := cgfile.ReadKeyed(dir, "hugetlb."+size+".events")
		if err != nil {
			return err
		}
		h.Failcnt = ev["max"]
		s.Hugetlb[size] = h
	}
	return nil
}
