package fs1

import (
	"fmt"
	"strconv"

	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// setBlkio writes the v1 blkio controller. Kernels with the BFQ scheduler
// and without CFQ (5.0+) only have the blkio.bfq.* weight files.
func setBlkio(w cgfile.Writer, b *configs.BlockIO) error {
	if b == nil {
		return nil
	}
	const f = "linux.resources.blockIO."
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if w.Dir != "" && !cgfile.Exists(w.Dir, weightFile) && cgfile.Exists(w.Dir, "blkio.bfq.weight") {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	if b.Weight != nil {
		if err := w.Write(f+"weight", weightFile, strconv.Itoa(int(*b.Weight))); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		if err := w.Write(f+"leafWeight", "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		if d.Weight != nil {
			if err := w.Write(fmt.Sprintf(f+"weightDevice[%d].weight", i), weightDevFile, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight)); err != nil {
				return err
			}
		}
		if d.LeafWeight != nil {
			if err := w.Write(fmt.Sprintf(f+"weightDevice[%d].leafWeight", i), "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.LeafWeight)); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		field, file string
		devs        []configs.ThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for i, d := range t.devs {
			// v1 reads rate 0 as "remove the limit", as the spec intends.
			if err := w.Write(fmt.Sprintf("%s%s[%d]", f, t.field, i), t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}
