package libcontainer

import (
	"fmt"
	"os"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/home"
	"github.com/ocirun/ocirun/libcontainer/internal/proto"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
)

// execInit is the parent's side of a process `exec` starts in a container:
// init joins the container init's namespaces and cgroup and, in C all the
// way (proto.CExec), applies the process's settings and execs.
type execInit struct {
	initProcess
	cg    cgroups.Manager
	joins []nsexec.NSPath
	// containerPid is the container's init, whose root holds /etc/passwd.
	containerPid int
	// keyring is the session keyring the process joins: the container's
	// ("" with --no-new-keyring).
	keyring string
}

// newExecJoins lists the namespaces of the container's init, by pid,
// whether the container created them or joined them itself; the time and
// user namespaces included.
func newExecJoins(namespaces []configs.Namespace, initPid int) []nsexec.NSPath {
	var joins []nsexec.NSPath
	for _, ns := range namespaces {
		joins = append(joins, nsexec.NSPath{
			Flag: nsFlags[ns.Type],
			Path: fmt.Sprintf("/proc/%d/ns/%s", initPid, nsFiles[ns.Type]),
		})
	}
	return joins
}

func (p *execInit) run() (*os.File, error) {
	if err := p.spawn(p.cg, nil, proto.CExec); err != nil {
		return nil, err
	}
	boot := nsexec.Bootstrap{Join: p.joins, Process: nsexec.ProcessExec}
	for _, j := range p.joins {
		// A pid or time namespace only applies to children of who joined it.
		if j.Flag == nsFlags[configs.NEWPID] || j.Flag == nsFlags[configs.NEWTIME] {
			boot.Fork = true
		}
	}
	if err := p.sendBootstrap(boot); err != nil {
		return nil, err
	}
	// The plan needs nothing from init: it is made while init joins.
	bpf, err := p.seccompProgram()
	if err != nil {
		return nil, err
	}
	plan, err := p.compilePlan(bpf)
	if err != nil {
		return nil, err
	}
	plan.Keyring = p.keyring
	if home.Needed(plan.Env) {
		// The container's root as its init sees it, from the host.
		plan.Env = home.Set(plan.Env, p.lookupHome(fmt.Sprintf("/proc/%d/root", p.containerPid), p.proc.UID))
	}
	if p.proc.Terminal {
		plan.Console = nsexec.ConsoleNew
		plan.Rows, plan.Cols = uint16(p.proc.ConsoleHeight), uint16(p.proc.ConsoleWidth)
	}
	frame, err := plan.Encode()
	if err != nil {
		return nil, err
	}
	if err := p.awaitChild(nil); err != nil {
		return nil, err
	}
	if err := p.conn.Send(proto.Plan(frame)); err != nil {
		return nil, p.initError(err)
	}
	p.log.Debug("plan sent", "bytes", len(frame), "container", p.containerPid)
	return p.finish(nil)
}
