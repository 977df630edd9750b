package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The second round of rootfs rules (SECURITY.md, "Beyond the CVE list"): a
// mount may not cover the root, device nodes are set up through fds, and a
// read-only rbind is read-only all the way down.

// An image ships `data -> /` (or a relative climb to the same place) and the
// bundle puts a volume at /data. Stacked over the root, the volume would
// become the container's / at pivot_root, with /proc, /sys, /dev and the masks
// left below it. ocirun refuses the mount (runc's wording, then the JSON path
// of the destination); any runtime that starts the container must show it the
// rootfs as /.
func TestSecurityMountOnRootfsSymlink(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, link string
		mount      func(vol string) specs.Mount
	}{
		{"bind at data -> /", "/", func(vol string) specs.Mount {
			return specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind"}}
		}},
		{"bind at data -> ../../..", "../../..", func(vol string) specs.Mount {
			return specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind"}}
		}},
		{"tmpfs at data -> /", "/", func(string) specs.Mount {
			return specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vol := t.TempDir()
			b := bundle.New(t, withMount(tc.mount(vol)),
				bundle.WithProbe("report", "--stat", "/rootfs-marker", "--stat", "/volume-marker"))
			// The volume can run the probe too, so a runtime that pivots into
			// it shows that in the report instead of failing to exec.
			if err := os.MkdirAll(filepath.Join(vol, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			probe, err := os.ReadFile(filepath.Join(b.Rootfs, "bin", "probe"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(vol, "bin", "probe"), probe, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{filepath.Join(vol, "volume-marker"), filepath.Join(b.Rootfs, "rootfs-marker")} {
				if err := os.WriteFile(f, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			symlinkInRootfs(t, b, "data", tc.link)
			idx := len(b.Spec.Mounts) - 1
			r := b.Run(t, "run", "--bundle", b.Dir, b.ID)
			assertNoCrash(t, r)
			if r.Code != 0 {
				t.Logf("refused: %s", strings.TrimSpace(r.Stderr))
				if bundle.IsOcirun(t) {
					for _, w := range []string{"is on the top of rootfs", fmt.Sprintf("mounts[%d].destination %q", idx, "/data")} {
						if !strings.Contains(r.Stderr, w) {
							t.Errorf("error does not mention %q:\n%s", w, r.Stderr)
						}
					}
				}
				return
			}
			if bundle.IsOcirun(t) {
				t.Errorf("run succeeded: a destination resolving to the root must be refused")
			}
			rep := bundle.ParseReport(t, r.Stdout)
			if st := rep.Stat["/rootfs-marker"]; !st.Exists {
				t.Errorf("/rootfs-marker = %+v: the container's / is not the rootfs", st)
			}
			if st := rep.Stat["/volume-marker"]; st.Exists {
				t.Errorf("/volume-marker is at / (%+v): the volume was stacked over the root", st)
			}
			if m := rep.Mount("/proc"); m == nil || m.FSType != "proc" {
				t.Errorf("/proc inside = %+v, want procfs: mounts made below the volume were left behind", m)
			}
		})
	}
}
