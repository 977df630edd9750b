package libcontainer

import (
	"fmt"
	"log/slog"

	"github.com/ocirun/ocirun/libcontainer/apparmor"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/internal/proto"
	"github.com/ocirun/ocirun/libcontainer/label"
)

// hostLSM says which LSMs the host enforces. The parent decides it, on the
// host, and hands the answer to init: inside the container's mount namespace
// selinuxfs and securityfs are absent, read-only or masked, and a check made
// there would answer "disabled" and drop the labels.
type hostLSM struct {
	SELinux  bool `json:"selinux,omitempty"`
	AppArmor bool `json:"apparmor,omitempty"`
}

// detectLSM asks the host only about the LSMs that p and mountLabel use (the
// others stay false, and nothing reads them): go-selinux scans mountinfo,
// which is long on a host running many containers.
func detectLSM(p *configs.Process, mountLabel string) hostLSM {
	var h hostLSM
	if p.SelinuxLabel != "" || mountLabel != "" {
		h.SELinux = label.Enabled()
	}
	if p.ApparmorProfile != "" {
		h.AppArmor = apparmor.IsEnabled()
	}
	return h
}

// checkProcess refuses a process label or profile the host cannot apply, as
// runc does: running the process unconfined would silently drop what its
// author asked for.
func (h hostLSM) checkProcess(p *configs.Process) error {
	if p.SelinuxLabel != "" && !h.SELinux {
		return fmt.Errorf("process.selinuxLabel %q: SELinux is disabled or not supported on this host", p.SelinuxLabel)
	}
	if p.ApparmorProfile != "" && !h.AppArmor {
		return fmt.Errorf("process.apparmorProfile %q: AppArmor is disabled or not supported on this host", p.ApparmorProfile)
	}
	return nil
}

// checkContainer is checkProcess plus linux.mountLabel. A mount label only
// labels files, and a host without SELinux has no policy that would read
// them: it is left out with a warning rather than refused, as crun does (runc
// passes it to mount(2) and fails with EINVAL), so a bundle written for an
// SELinux host still runs; the process label, which confines, is refused.
func (h hostLSM) checkContainer(cfg *configs.Config, log *slog.Logger) error {
	if err := h.checkProcess(&cfg.Process); err != nil {
		return err
	}
	if cfg.MountLabel != "" && !h.SELinux {
		log.Warn(fmt.Sprintf("linux.mountLabel %q: SELinux is disabled or not supported on this host, mounts are not labelled", cfg.MountLabel))
	}
	return nil
}

// wire is the answer as the Go init receives it.
func (h hostLSM) wire() proto.LSM { return proto.LSM{SELinux: h.SELinux, AppArmor: h.AppArmor} }
