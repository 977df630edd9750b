//go:build !nocriu

package libcontainer

import (
	"os"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// TestRestoreRefusesLSM: restore checks the host's LSMs as create does,
// before it reads the images or makes anything.
func TestRestoreRefusesLSM(t *testing.T) {
	if detectLSM(&configs.Process{ApparmorProfile: "p"}, "").AppArmor {
		t.Skip("AppArmor is enabled on this host: restore has no profile it must refuse here")
	}
	root := &Root{Path: t.TempDir()}
	cfg := &configs.Config{Process: configs.Process{ApparmorProfile: "ocirun-test"}}
	_, err := root.Restore("r1", cfg, &RestoreOpts{})
	if err == nil || !strings.Contains(err.Error(), `process.apparmorProfile "ocirun-test": AppArmor is disabled`) {
		t.Fatalf("restore with an AppArmor profile on a host without AppArmor: %v", err)
	}
	if entries, _ := os.ReadDir(root.Path); len(entries) != 0 {
		t.Errorf("restore left %d entries in its root", len(entries))
	}
}
