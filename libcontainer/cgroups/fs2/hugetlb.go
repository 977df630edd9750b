package fs2

import (
	"fmt"
	"strconv"

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
