package rootfs

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// WriteSysctls writes each value to /proc/sys/<key with . as />, opened
// through a private procfs handle so no container mount can redirect it.
// Keys are written in sorted order for reproducible errors.
func WriteSysctls(sysctl map[string]string) error {
	keys := make([]string, 0, len(sysctl))
	for k := range sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rel := strings.ReplaceAll(k, ".", "/")
		f, err := sys.OpenProcSys(rel, unix.O_WRONLY|unix.O_TRUNC)
		if err != nil {
			return fmt.Errorf("linux.sysctl %q: %w", k, err)
		}
		_, err = f.WriteString(sysctl[k])
		f.Close()
		if err != nil {
			return fmt.Errorf("linux.sysctl %q=%q: %w", k, sysctl[k], err)
		}
	}
	return nil
}
