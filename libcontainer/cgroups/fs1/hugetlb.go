package fs1

import (
	"fmt"
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setHugetlb writes hugetlb.<size>.limit_in_bytes for each page size.
func setHugetlb(w cgfile.Writer, limits []configs.HugepageLimit) error {
	for i, l := range limits {
		field := fmt.Sprintf("linux.resources.hugepageLimits[%d]", i)
		if !cgfile.ValidName(l.Pagesize) {
			return fmt.Errorf("%s.pageSize: invalid page size %q", field, l.Pagesize)
		}
		if err := w.Write(field, "hugetlb."+l.Pagesize+".limit_in_bytes", strconv.FormatUint(l.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}
