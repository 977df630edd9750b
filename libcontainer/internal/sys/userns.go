package sys

import (
	"os"
	"strings"
	"sync"
)

// InUserNS reports whether the calling process runs in a user namespace
// other than the initial one: whose uid_map is not the identity over all
// 2^32-1 ids. There mount flags of inherited mounts are locked, mknod and
// most filesystem types are refused, and "root" may own nothing on the host.
var InUserNS = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})
