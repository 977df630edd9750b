package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// ErrExecPaused is an exec into a paused container without IgnorePaused.
var ErrExecPaused = errors.New("cannot exec in a paused container")

// ExecOpts describe one `ocirun exec`.
type ExecOpts struct {
	// Process is what to run, complete: specconv.ExecProcess and
	// DecodeExecProcess give it the container's settings where it leaves
	// them out.
	Process       *configs.Process
	ConsoleSocket string
	PidFile       string
	PidfdSocket   string // receives a pidfd of the process (--pidfd-socket)
	PreserveFDs   int
	Detach        bool
	IgnorePaused  bool
	// SubCgroup puts the process in an existing sub-cgroup of the
	// container's: controller name → relative path ("" for every hierarchy).
	SubCgroup map[string]string
	Log       *slog.Logger
	Trace     *trace.Tracer
}

func (o *ExecOpts) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

// nsFiles maps namespace types to their /proc/<pid>/ns names.
var nsFiles = map[string]string{
	configs.NEWPID:    "pid",
	configs.NEWNET:    "net",
	configs.NEWIPC:    "ipc",
	configs.NEWUTS:    "uts",
	configs.NEWNS:     "mnt",
	configs.NEWCGROUP: "cgroup",
	configs.NEWUSER:   "user",
	configs.NEWTIME:   "time",
}

// Exec starts a new process in the running container: it joins every
// namespace of the container's init (through the C stage) and its cgroup, and
// gets the container's security settings with the given process. It returns
// the new process's host pid and, in the foreground with a terminal, the pty
// master.
func (c *Container) Exec(opts *ExecOpts) (pid int, master *os.File, err error) {
	switch st := c.Status(); st {
	case Running, Created:
	case Paused:
		if !opts.IgnorePaused {
			return 0, nil, ErrExecPaused
		}
	default:
		return 0, nil, errors.New("cannot exec in a stopped container")
	}
	if opts.Process.Terminal && opts.ConsoleSocket == "" && opts.Detach {
		return 0, nil, errors.New("cannot allocate tty if ocirun will detach without setting console socket")
	}
	if !opts.Process.Terminal && opts.ConsoleSocket != "" {
		return 0, nil, errors.New("cannot use console socket if ocirun will not detach or allocate tty")
	}
	proc := *opts.Process
	lsm := detectLSM(&proc, "")
	if err := lsm.checkProcess(&proc); err != nil {
		return 0, nil, err
	}
	paths, err := subCgroupPaths(c.state.CgroupPaths, opts.SubCgroup)
	if err != nil {
		return 0, nil, err
	}
	if len(opts.SubCgroup) == 0 {
		paths = execLeaf(paths, c.state.InitPid)
	}
	cg, err := cgroups.Load(paths)
	if err != nil {
		return 0, nil, err
	}
	p := &execInit{
		initProcess: initProcess{
			id: c.ID, bundle: c.state.Bundle, annotations: c.state.Annotations, proc: &proc,
			consoleSocket: opts.ConsoleSocket, preserveFDs: opts.PreserveFDs,
			log: opts.log(), trace: opts.Trace, lsm: lsm, running: true,
		},
		cg:           cg,
		joins:        newExecJoins(c.state.Config.Namespaces, c.state.InitPid),
		containerPid: c.state.InitPid,
	}
	defer func() {
		if err != nil {
			p.kill()
			p.closeParentEnds()
			if master != nil {
				master.Close()
				master = nil
			}
		}
	}()
	if master, err = p.run(); err != nil {
		return 0, nil, err
	}
	if opts.PidfdSocket != "" {
		if err := sendPidfd(opts.PidfdSocket, p.initPid, "setns"); err != nil {
			return 0, nil, err
		}
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, p.initPid); err != nil {
			return 0, nil, err
		}
	}
	p.closeParentEnds()
	return p.initPid, master, nil
}

// execLeaf: on cgroup v2 a cgroup with controllers enabled for its children
// takes no processes (EBUSY). That is the container's cgroup when it runs
// its own cgroup manager (systemd in a container moves itself to
// init.scope, a nested runtime makes children): join the init's cgroup
// instead, as runc does. v1 has no such rule.
func execLeaf(paths map[string]string, initPid int) map[string]string {
	if !cgroups.IsV2() {
		return paths
	}
	paths = maps.Clone(paths) // not the state's
	for mnt, dir := range paths {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		cur, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(cur), "\n") {
			if rel, ok := strings.CutPrefix(l, "0::"); ok {
				// Only a cgroup inside the container's own: the init's
				// path comes from its /proc file, not from our config.
				if leaf := filepath.Join(mnt, rel); strings.HasPrefix(leaf, dir+"/") {
					paths[mnt] = leaf
				}
			}
		}
	}
	return paths
}

// subCgroupPaths resolves `exec --cgroup`: each entry names a sub-cgroup,
// relative to the container's own, that must already exist (as with runc).
func subCgroupPaths(base map[string]string, sub map[string]string) (map[string]string, error) {
	if len(sub) == 0 {
		return base, nil
	}
	hs, err := cgroups.Hierarchies()
	if err != nil {
		return nil, err
	}
	controllers := map[string][]string{}
	for _, h := range hs {
		controllers[h.Mountpoint] = h.Controllers
	}
	out := make(map[string]string, len(base))
	for mnt, p := range base {
		out[mnt] = p
	}
	for ctrl, rel := range sub {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(rel) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("sub-cgroup %q: must be a path below the container's cgroup", rel)
		}
		matched := false
		for mnt, p := range base {
			if ctrl != "" && !slices.Contains(controllers[mnt], ctrl) && !(ctrl == "unified" && len(controllers[mnt]) == 0) {
				continue
			}
			matched = true
			dir := filepath.Join(p, clean)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("sub-cgroup %s: %s does not exist", rel, dir)
			}
			out[mnt] = dir
		}
		if !matched {
			return nil, fmt.Errorf("sub-cgroup %s:%s: no such controller in the container's cgroups", ctrl, rel)
		}
	}
	return out, nil
}
