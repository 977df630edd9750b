package fs1

import (
	"github.com/ocirun/ocirun/libcontainer/cgroups/internal/cgfile"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

func setRdma(w cgfile.Writer, r map[string]configs.Rdma) error {
	return cgfile.SetRdma(w, r)
}
