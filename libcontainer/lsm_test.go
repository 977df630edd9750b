package libcontainer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

func TestHostLSMCheck(t *testing.T) {
	const sel = "system_u:system_r:container_t:s0"
	const mnt = "system_u:object_r:container_file_t:s0"
	for _, tc := range []struct {
		name    string
		host    hostLSM
		cfg     configs.Config
		wantErr string // "" for none
		wantLog string // "" for no warning
	}{
		{"nothing asked", hostLSM{}, configs.Config{}, "", ""},
		{"label without SELinux", hostLSM{AppArmor: true}, configs.Config{Process: configs.Process{SelinuxLabel: sel}},
			`process.selinuxLabel "` + sel + `": SELinux is disabled`, ""},
		{"label with SELinux", hostLSM{SELinux: true}, configs.Config{Process: configs.Process{SelinuxLabel: sel}, MountLabel: mnt}, "", ""},
		{"profile without AppArmor", hostLSM{SELinux: true}, configs.Config{Process: configs.Process{ApparmorProfile: "p"}},
			`process.apparmorProfile "p": AppArmor is disabled`, ""},
		{"profile with AppArmor", hostLSM{AppArmor: true}, configs.Config{Process: configs.Process{ApparmorProfile: "p"}}, "", ""},
		{"mount label without SELinux", hostLSM{}, configs.Config{MountLabel: mnt}, "", `level=WARN msg="linux.mountLabel \"` + mnt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tc.host.checkContainer(&tc.cfg, slog.New(slog.NewTextHandler(&buf, nil)))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
			if got := buf.String(); tc.wantLog == "" && got != "" || !strings.Contains(got, tc.wantLog) {
				t.Errorf("log %q, want %q", got, tc.wantLog)
			}
		})
	}
}
