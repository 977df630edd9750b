package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// exeAttack mirrors the probe's ExeAttack (tests/cmd/probe/attack.go).
type exeAttack struct {
	Seen    int      `json:"seen"`
	Targets []string `json:"targets"`
	Opened  []string `json:"opened"`
	Written []string `json:"written"`
}

// TestSecurityCVE2019_5736_OverwriteRuntimeBinary: CVE-2019-5736: the image's
// /bin/sh is a symlink to /proc/self/exe, so an `exec ID /bin/sh` makes the
// runtime's init re-exec the runtime binary inside the container. A payload
// running as the container's pid 1 (with CAP_SYS_PTRACE, so non-dumpable
// processes do not hide their exe from it) tries to write every runtime
// executable it sees, while it runs and after it exits. No write may land, and
// the host binary's checksum must not change.
func TestSecurityCVE2019_5736_OverwriteRuntimeBinary(t *testing.T) {
	t.Parallel()
	caps := []string{"CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_KILL"}
	b := bundle.New(t, bundle.WithSpec(func(s *specs.Spec) {
		s.Process.Args = []string{bundle.ProbePath, "attack-exe", "/tmp", "25"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	}))
	symlinkInRootfs(t, b, "bin/sh", "/proc/self/exe")
	rt := bundle.Runtime(t)
	before := fileSHA256(t, rt)

	b.RunDetached(t)
	for i := 0; i < 12; i++ {
		// Each exec's outcome is not the point: the runtime binary, run as
		// /bin/sh, just prints its usage or an error.
		for _, args := range [][]string{{"/bin/sh"}, {"/proc/self/exe", "--version"}, {bundle.ProbePath, "exit", "0"}} {
			r := b.Run(t, append([]string{"exec", b.ID}, args...)...)
			assertNoCrash(t, r)
		}
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs, "tmp", "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var res exeAttack
	resPath := filepath.Join(b.Rootfs, "tmp", "result.json")
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(resPath)
		if err == nil && json.Unmarshal(data, &res) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payload wrote no result to %s: %v", resPath, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("payload saw %d runtime processes (%v); %d opened for writing, none may take a write", res.Seen, res.Targets, len(res.Opened))
	if len(res.Written) > 0 {
		t.Errorf("payload wrote to the runtime's executable: %v", res.Written)
	}
	if after := fileSHA256(t, rt); after != before {
		t.Errorf("host runtime binary %s changed: sha256 %s -> %s", rt, before, after)
	}
	if res.Seen == 0 {
		// Without a sighting the test proved nothing: the payload must have
		// caught at least one of the 36 execs.
		t.Errorf("payload never saw a runtime process inside the container")
	}
}
