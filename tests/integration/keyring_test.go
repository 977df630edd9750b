package integration

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/tests/internal/bundle"
)

// TestSessionKeyring: the container's init gets a session keyring of its
// own, "_ses.<id>", and every process exec starts joins that same keyring,
// as runc's do, instead of keeping the one of whoever ran exec. With
// --no-new-keyring at create, both keep the caller's.
func TestSessionKeyring(t *testing.T) {
	t.Parallel()
	own, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		t.Skipf("keyrings unavailable here: %v", err)
	}
	for _, noNew := range []bool{false, true} {
		name := "new-keyring"
		if noNew {
			name = "no-new-keyring"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "/bin/probe report > /tmp/init.json; exec /bin/probe sleep 60"))
			var extra []string
			if noNew {
				extra = append(extra, "--no-new-keyring")
			}
			b.Create(t, extra...)
			b.Start(t)
			var initRep string
			for i := 0; i < 100 && initRep == ""; i++ {
				if r := b.Run(t, "exec", b.ID, "/bin/sh", "-c", "test -s /tmp/init.json && sleep 0.1 && cat /tmp/init.json"); r.Code == 0 {
					initRep = r.Stdout
				}
			}
			if initRep == "" {
				t.Fatal("the container's init wrote no report")
			}
			initKR := bundle.ParseReport(t, initRep).SessionKeyring
			exec1 := bundle.ParseReport(t, b.MustRun(t, "exec", b.ID, "/bin/probe", "report").Stdout).SessionKeyring
			exec2 := bundle.ParseReport(t, b.MustRun(t, "exec", b.ID, "/bin/probe", "report").Stdout).SessionKeyring
			if noNew {
				if initKR.ID != own || exec1.ID != own {
					t.Errorf("--no-new-keyring: init's session keyring %+v, exec's %+v; want the caller's, %d", initKR, exec1, own)
				}
				return
			}
			if want := "_ses." + b.ID; initKR.Description != want || initKR.ID == own {
				t.Errorf("init's session keyring %+v, want a new one named %q (the caller's is %d)", initKR, want, own)
			}
			if exec1.ID != initKR.ID || exec2.ID != initKR.ID {
				t.Errorf("exec'd processes' session keyrings %+v and %+v, want the container's %+v (the caller's is %d)", exec1, exec2, initKR, own)
			}
		})
	}
}
