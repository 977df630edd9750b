package cgfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// SetRdma writes one rdma.max line per device; rdma.max has the same
// format on v1 and v2 and only changes the keys present in the line.
func SetRdma(w Writer, r map[string]configs.Rdma) error {
	for _, dev := range slices.Sorted(maps.Keys(r)) {
		l := r[dev]
		field := fmt.Sprintf("linux.resources.rdma[%q]", dev)
		if !ValidName(dev) || strings.ContainsAny(dev, " \n") {
			return fmt.Errorf("%s: invalid device name", field)
		}
		line := dev
		if l.HcaHandles != nil {
			line += fmt.Sprintf(" hca_handle=%d", *l.HcaHandles)
		}
		if l.HcaObjects != nil {
			line += fmt.Sprintf(" hca_object=%d", *l.HcaObjects)
		}
		if line == dev {
			continue
		}
		if err := w.Write(field, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}
