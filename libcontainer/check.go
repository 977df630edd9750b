package libcontainer

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/problem"
	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
)

// Check asks the host whether creating container id from cfg (as specconv
// made it) with opts can work, and changes nothing: the command line's
// files, each namespace, cgroup controller, seccomp action, flag and
// architecture, LSM, mount type and option, hook program, and the
// container's program as its user would find it. Create runs it first and
// fails with its first error, so `ocirun validate` and `create` never
// disagree. A check that cannot be sure (a mount may hide the program, fsopen
// needs privileges) says so as a warning, never as an error.
func (r *Root) Check(id string, cfg *configs.Config, opts *CreateOpts) problem.List {
	return r.check(id, cfg, opts, true)
}

// check is Check; without all, it leaves out the warnings that cost (the
// syscall names libseccomp does not know: 0.2-0.5 ms for Docker's profile),
// as create does. They never change create's outcome.
func (r *Root) check(id string, cfg *configs.Config, opts *CreateOpts, all bool) problem.List {
	var ps problem.List
	r.checkCommandLine(id, cfg, opts, &ps)
	checkNamespaces(cfg, &ps)
	checkCgroupControllers(cfg, &ps)
	checkSeccomp(cfg.Process.Seccomp, all, &ps)
	checkLSM(cfg, &ps)
	checkMounts(cfg, r.Path, &ps)
	checkHooks(cfg, &ps)
	checkProgram(cfg, &ps)
	return ps
}

func (r *Root) checkCommandLine(id string, cfg *configs.Config, opts *CreateOpts, ps *problem.List) {
	if id != "" {
		if _, err := os.Lstat(r.dir(id)); err == nil {
			ps.Add(&problem.Problem{Path: "container id", Value: id, Text: ErrExist.Error() + ": " + id,
				Problem: "a container with this id exists", Hint: fmt.Sprintf("pick another id, or `ocirun delete %s` first", id)})
		}
	}
	if cfg.Process.Terminal && opts.ConsoleSocket == "" && !opts.Foreground {
		ps.Add(&problem.Problem{Path: "process.terminal", Value: true, Text: "cannot allocate tty if ocirun will detach without setting console socket",
			Problem: "true, but no --console-socket to send the terminal to", Hint: "give --console-socket, or set process.terminal to false"})
	}
	if !cfg.Process.Terminal && opts.ConsoleSocket != "" {
		ps.Add(&problem.Problem{Path: "--console-socket", Value: opts.ConsoleSocket, Text: "cannot use console socket if ocirun will not detach or allocate tty",
			Problem: "given, but process.terminal is false", Hint: "set process.terminal to true, or leave --console-socket out"})
	}
	checkSocket("--console-socket", opts.ConsoleSocket, "--console-socket names the AF_UNIX socket a client listens on for the terminal's fd", ps)
	checkSocket("--pidfd-socket", opts.PidfdSocket, "--pidfd-socket names the AF_UNIX socket a client listens on for the init's pidfd", ps)
	if p := opts.PidFile; p != "" {
		const hint = "--pid-file names a file to write, in an existing directory"
		abs, err := filepath.Abs(p)
		var st unix.Stat_t
		switch {
		case err != nil:
			ps.Errorf("--pid-file", p, hint, "%v", err)
		case unix.Stat(filepath.Dir(abs), &st) != nil:
			ps.Errorf("--pid-file", p, hint, "directory %s does not exist", problem.Q(filepath.Dir(abs)))
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			ps.Errorf("--pid-file", p, hint, "%s is not a directory", problem.Q(filepath.Dir(abs)))
		case unix.Stat(abs, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
			ps.Errorf("--pid-file", p, hint, "%s is a directory", problem.Q(abs))
		}
	}
	if opts.PreserveFDs < 0 {
		ps.Errorf("--preserve-fds", opts.PreserveFDs, "the number of fds after stdio (and $LISTEN_FDS) to pass on", "must not be negative, got %d", opts.PreserveFDs)
	}
}

// checkSocket: a socket path the runtime will connect to must fit in
// sun_path and name a socket. Whether someone listens is only found by
// connecting, which the listener would take for the real thing.
func checkSocket(flag, s, hint string, ps *problem.List) {
	if s == "" {
		return
	}
	var st unix.Stat_t
	if max := len(unix.RawSockaddrUnix{}.Path) - 1; len(s) > max {
		ps.Errorf(flag, s, hint, "%s is longer than a unix socket path can be (%d bytes)", problem.Q(s), max)
	} else if err := unix.Stat(s, &st); err != nil {
		ps.Errorf(flag, s, hint, "%v", &os.PathError{Op: "stat", Path: s, Err: err})
	} else if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		ps.Errorf(flag, s, hint, "%s is not a socket", problem.Q(s))
	}
}

// nsGetNSType is NS_GET_NSTYPE, _IO(0xb7, 0x3): the CLONE_NEW* type of a
// namespace fd, ENOTTY for any other file.
const nsGetNSType = 0xb703

func checkNamespaces(cfg *configs.Config, ps *problem.List) {
	for i, ns := range cfg.Namespaces {
		file, flag := nsFiles[ns.Type], nsFlags[ns.Type]
		if file == "" {
			continue
		}
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		if ns.Path == "" {
			// A kernel without a namespace type has no file for it here.
			if _, err := os.Lstat("/proc/self/ns/" + file); err != nil {
				ps.Errorf(field+".type", ns.Type, "this kernel was built without it (no /proc/self/ns/"+file+"): remove it, or run on a kernel that has it",
					"%s namespaces are not available on this host", ns.Type)
			}
			continue
		}
		hint := fmt.Sprintf("a %s namespace file: /proc/PID/ns/%s, or a bind mount of one", ns.Type, file)
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != nil {
			ps.Errorf(field+".path", ns.Path, hint, "%v", &os.PathError{Op: "open", Path: ns.Path, Err: err})
			continue
		}
		t, err := unix.IoctlRetInt(fd, nsGetNSType)
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL):
			ps.Errorf(field+".path", ns.Path, hint, "%s is not a namespace file", problem.Q(ns.Path))
		case err != nil:
			ps.Errorf(field+".path", ns.Path, hint, "%v", os.NewSyscallError("ioctl(NS_GET_NSTYPE)", err))
		case uint32(t) != flag:
			ps.Errorf(field+".path", ns.Path, hint, "%s is a %s namespace, not %s", problem.Q(ns.Path), nsTypeName(t), ns.Type)
		}
	}
}

func nsTypeName(flag int) string {
	for t, f := range nsFlags {
		if int(f) == flag {
			return t
		}
	}
	return fmt.Sprintf("%#x", flag)
}

// wantedControllers maps each set resource to the controller that applies
// it (cgroup v1 name, cgroup v2 name): what the cgroup manager would fail
// on, named earlier.
func wantedControllers(r *configs.Resources) map[string][2]string {
	want := map[string][2]string{}
	if r == nil {
		return want
	}
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil || m.Swappiness != nil || m.DisableOOMKiller != nil) {
		want["linux.resources.memory"] = [2]string{"memory", "memory"}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.RealtimeRuntime != nil || c.RealtimePeriod != nil || c.Idle != nil {
			want["linux.resources.cpu"] = [2]string{"cpu", "cpu"}
		}
		if c.Cpus != "" || c.Mems != "" {
			want["linux.resources.cpu.cpus"] = [2]string{"cpuset", "cpuset"}
		}
	}
	if r.Pids != nil {
		want["linux.resources.pids"] = [2]string{"pids", "pids"}
	}
	if b := r.BlockIO; b != nil && (b.Weight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 ||
		len(b.ThrottleWriteBpsDevice) > 0 || len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0) {
		want["linux.resources.blockIO"] = [2]string{"blkio", "io"}
	}
	if len(r.HugepageLimits) > 0 {
		want["linux.resources.hugepageLimits"] = [2]string{"hugetlb", "hugetlb"}
	}
	if len(r.Rdma) > 0 {
		want["linux.resources.rdma"] = [2]string{"rdma", "rdma"}
	}
	return want
}

// checkCgroupControllers: a limit needs its controller mounted (v1) or
// available in the hierarchy (v2, the root's cgroup.controllers: a parent
// that does not delegate it is the manager's to find).
func checkCgroupControllers(cfg *configs.Config, ps *problem.List) {
	if r := cfg.Cgroups.Resources; r != nil && len(r.Unified) > 0 && !cgroups.IsV2() {
		ps.Add(&problem.Problem{Path: "linux.resources.unified", Text: cgroups.ErrV1NoUnified.Error(),
			Problem: "cgroup v2 files asked for on a cgroup v1 host", Hint: "set the same limits through linux.resources' other fields"})
	}
	want := wantedControllers(cfg.Cgroups.Resources)
	if len(want) == 0 {
		return
	}
	hs, err := cgroups.Hierarchies()
	if err != nil || len(hs) == 0 {
		ps.Errorf("linux.resources", nil, "mount the cgroup hierarchies (cgroup2 on /sys/fs/cgroup)", "no cgroup hierarchy is mounted, so no limit can be set")
		return
	}
	v2 := cgroups.IsV2()
	have := map[string]bool{}
	for _, h := range hs {
		if !h.V2 {
			for _, c := range h.Controllers {
				if !strings.HasPrefix(c, "name=") {
					have[c] = true
				}
			}
			continue
		}
		if v2 {
			b, err := os.ReadFile(filepath.Join(h.Mountpoint, "cgroup.controllers"))
			if err != nil {
				return // not ours to judge: the manager will say
			}
			for _, c := range strings.Fields(string(b)) {
				have[c] = true
			}
		}
	}
	available := slices.Sorted(maps.Keys(have))
	for _, field := range slices.Sorted(maps.Keys(want)) {
		ctrl := want[field][0]
		if v2 {
			ctrl = want[field][1]
		}
		if !have[ctrl] {
			ps.Errorf(field, nil, fmt.Sprintf("remove the limit, or enable the controller; this host has: %s", strings.Join(available, " ")),
				"%s controller not available on this host", ctrl)
		}
	}
}

func checkSeccomp(s *configs.Seccomp, unknown bool, ps *problem.List) {
	if s == nil {
		return
	}
	const field = "linux.seccomp"
	if !seccomp.Supported() {
		ps.Errorf(field, nil, "remove linux.seccomp, or run on a kernel with CONFIG_SECCOMP_FILTER", "seccomp filters are not available on this host")
		return
	}
	actions := seccomp.Actions()
	hint := "this kernel implements: " + strings.Join(actions, ", ")
	if !slices.Contains(actions, string(s.DefaultAction)) {
		ps.Errorf(field+".defaultAction", string(s.DefaultAction), hint, "%s is not implemented by this kernel", s.DefaultAction)
	}
	reported := map[configs.SeccompAction]bool{s.DefaultAction: true}
	for _, sc := range s.Syscalls {
		if !reported[sc.Action] && !slices.Contains(actions, string(sc.Action)) {
			reported[sc.Action] = true
			ps.Errorf(field+".syscalls", string(sc.Action), hint, "%s is not implemented by this kernel", sc.Action)
		}
	}
	flags := seccomp.Flags()
	for i, f := range s.Flags {
		if !slices.Contains(flags, f) {
			ps.Errorf(fmt.Sprintf("%s.flags[%d]", field, i), f, "this kernel accepts: "+strings.Join(flags, ", "), "%s is not supported by this kernel", f)
		}
	}
	if len(s.Architectures) > 0 {
		archs := seccomp.Archs()
		for i, a := range s.Architectures {
			if !slices.Contains(archs, a) {
				ps.Errorf(fmt.Sprintf("%s.architectures[%d]", field, i), a, "libseccomp here supports: "+strings.Join(archs, ", "), "%s is not supported by the linked libseccomp", a)
			}
		}
	}
	// runc skips a syscall libseccomp does not know, for profiles written
	// for newer kernels; so does ocirun (debug log), and says so here.
	if !unknown {
		return
	}
	if names := seccomp.UnknownSyscalls(s); len(names) > 0 {
		ps.Warnf(field+".syscalls", strings.Join(names, ","), "the rules for them are left out of the filter (newer than this libseccomp, or misspelt)",
			"unknown to libseccomp here: %s", strings.Join(names, ", "))
	}
}

func checkLSM(cfg *configs.Config, ps *problem.List) {
	h := detectLSM(&cfg.Process, cfg.MountLabel)
	if err := h.checkProcess(&cfg.Process); err != nil {
		p := &problem.Problem{Text: err.Error(), Severity: problem.Error}
		if cfg.Process.SelinuxLabel != "" && !h.SELinux {
			p.Path, p.Value, p.Problem = "process.selinuxLabel", cfg.Process.SelinuxLabel, "SELinux is disabled or not supported on this host"
			p.Hint = "remove the label, or run on a host where SELinux is enabled"
		} else {
			p.Path, p.Value, p.Problem = "process.apparmorProfile", cfg.Process.ApparmorProfile, "AppArmor is disabled or not supported on this host"
			p.Hint = "remove the profile, or run on a host where AppArmor is enabled"
		}
		ps.Add(p)
	}
	if cfg.MountLabel != "" && !h.SELinux {
		ps.Warnf("linux.mountLabel", cfg.MountLabel, "the label is left out: files are not labelled where SELinux is off",
			"SELinux is disabled or not supported on this host, mounts are not labelled")
	}
}

// checkMounts: stateRoot holds what the runtime makes and binds itself (the
// notify socket's directory), not there before create.
func checkMounts(cfg *configs.Config, stateRoot string, ps *problem.List) {
	netns := cfg.HasNamespace(configs.NEWNET)
	cannot := false
	for i, m := range cfg.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		if m.IsBind() {
			if stateRoot != "" && strings.HasPrefix(m.Source, filepath.Clean(stateRoot)+"/") {
				continue
			}
			if _, err := os.Stat(m.Source); err != nil {
				// Sources are opened in the container's mount namespace as
				// the mounts before them left it: one inside the rootfs
				// may be a mountpoint an earlier mount makes.
				if cfg.Rootfs != "" && (m.Source == cfg.Rootfs || strings.HasPrefix(m.Source, cfg.Rootfs+"/")) {
					ps.Warnf(field+".source", m.Source, "fine if an earlier mount provides it", "%v", err)
					continue
				}
				ps.Errorf(field+".source", m.Source, "a bind mount's source must exist on the host", "%v", err)
			}
			continue
		}
		err := rootfs.CheckMount(&m, netns)
		var me *rootfs.MountError
		switch {
		case err == nil:
		case errors.Is(err, rootfs.ErrCannotCheck):
			cannot = true
		case errors.As(err, &me) && me.Option == "":
			ps.Errorf(field+".type", m.Device, "the types this kernel has are in /proc/filesystems", "%s", me.Error())
		case errors.As(err, &me) && errors.Is(err, unix.EINVAL):
			ps.Errorf(field+".options", me.Option, "see the filesystem's manual page (man 5 "+m.Device+") for the options it takes", "%s", me.Error())
		case errors.As(err, &me):
			// A path option (overlay's lowerdir...) is looked up again,
			// in the container's mount namespace, when it is mounted.
			ps.Warnf(field+".options", me.Option, "fine if the mounts before this one provide it", "%s", me.Error())
		default:
			ps.Errorf(field, m.Device, "", "%v", err)
		}
	}
	if cannot {
		ps.Warnf("mounts", nil, "run as root to check them", "mount types and options not checked: fsopen(2) needs CAP_SYS_ADMIN")
	}
}

// checkHooks: the hooks that run on the host must be there. The spec makes
// a failing poststart or poststop hook a warning, so a missing one is one;
// startContainer hooks run inside the container, where a mount may bring
// them.
func checkHooks(cfg *configs.Config, ps *problem.List) {
	for _, phase := range []hooks.Phase{hooks.Prestart, hooks.CreateRuntime, hooks.CreateContainer, hooks.Poststart, hooks.Poststop} {
		sev := problem.Warning
		if phase.Fatal() {
			sev = problem.Error
		}
		for i, h := range phase.Of(&cfg.Hooks) {
			var msg string
			var st unix.Stat_t
			switch err := unix.Stat(h.Path, &st); {
			case err != nil:
				msg = (&os.PathError{Op: "stat", Path: h.Path, Err: err}).Error()
			case st.Mode&unix.S_IFMT != unix.S_IFREG:
				msg = fmt.Sprintf("%s is not a regular file", problem.Q(h.Path))
			case st.Mode&0o111 == 0:
				msg = fmt.Sprintf("%s is not executable", problem.Q(h.Path))
			default:
				continue
			}
			ps.Add(&problem.Problem{Path: fmt.Sprintf("hooks.%s[%d].path", phase, i), Value: h.Path, Problem: msg, Severity: sev,
				Hint: "a hook's path names an executable file on the host (the runtime's mount namespace)"})
		}
	}
}

// checkProgram looks for process.args[0] in the rootfs as init will
// (look_path in nsexec/process.c: the container's PATH, the last PATH= of
// process.env, relative to process.cwd) and checks that process.user may
// execute it. A path a mount or a hook could provide is not judged.
func checkProgram(cfg *configs.Config, ps *problem.List) {
	p := &cfg.Process
	if cfg.Rootfs == "" || len(p.Args) == 0 || p.Args[0] == "" || !filepath.IsAbs(p.Cwd) {
		return
	}
	root, err := os.OpenFile(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return // convertRoot checked it; gone since: create will say
	}
	defer root.Close()
	name := p.Args[0]
	hooked := len(cfg.Hooks.Prestart)+len(cfg.Hooks.CreateRuntime)+len(cfg.Hooks.CreateContainer)+len(cfg.Hooks.StartContainer) > 0
	// shadowed: a mount at or above p decides what is there, not the rootfs.
	covered := func(p string) bool {
		for _, m := range cfg.Mounts {
			d := path.Clean(m.Destination)
			if d == "/" || p == d || strings.HasPrefix(p, d+"/") {
				return true
			}
		}
		return false
	}
	shadowed := func(p string) bool { return underMount(cfg.Rootfs, p, covered) }
	report := func(msg, hint string, candidates ...string) {
		sev := problem.Error
		if hooked || slices.ContainsFunc(candidates, shadowed) {
			sev = problem.Warning
		}
		ps.Add(&problem.Problem{Path: "process.args[0]", Value: name, Problem: msg, Hint: hint, Severity: sev})
	}
	q := fmt.Sprintf("%q", name)
	if strings.Contains(name, "/") {
		full := name
		if !path.IsAbs(full) {
			full = path.Join(p.Cwd, full)
		}
		if shadowed(full) {
			return
		}
		if msg := findExec(root, full, name, cfg); msg != "" {
			report("exec: "+q+": "+msg, "the program must be in the rootfs (or a mount) and executable by process.user", full)
		}
		return
	}
	var pathEnv *string
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = &v
		}
	}
	var tried []string
	if pathEnv != nil {
		for dir := range strings.SplitSeq(*pathEnv, ":") {
			if dir == "" {
				dir = "."
			}
			rel := !path.IsAbs(dir)
			full := path.Join(dir, name)
			if rel {
				full = path.Join(p.Cwd, full)
			}
			tried = append(tried, full)
			if shadowed(full) {
				return
			}
			if findExec(root, full, name, cfg) != "" {
				continue
			}
			if rel {
				report("exec: "+q+": cannot run executable found relative to current directory", "give an absolute directory in PATH, or an absolute args[0]")
			}
			return
		}
	}
	hint := "add the program's directory to PATH in process.env, or give args[0] as an absolute path"
	if pathEnv == nil {
		hint = "process.env has no PATH: give args[0] as an absolute path, or add PATH=/usr/bin:/bin"
	}
	report("exec: "+q+": executable file not found in $PATH", hint, tried...)
}

// underMount reports whether p, resolved in rootfs as the container will
// (symlinks followed with rootfs as "/"), passes through a path covered: a
// /lib -> usr/lib link leads under a /usr mount, whose content the rootfs
// does not show.
func underMount(rootfs, p string, covered func(string) bool) bool {
	rest := strings.Split(p, "/")
	cur := "/"
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		if covered(next) {
			return true
		}
		// cur never holds a symlink, so the host resolves nothing here.
		target, err := os.Readlink(filepath.Join(rootfs, next))
		if err != nil {
			cur = next // not a symlink, or not there
			continue
		}
		if hops++; hops > 40 {
			return false // ELOOP: init's lookup fails too
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return covered(cur)
}

// findExec is find_exec of nsexec/process.c with the rootfs as "/": "" when
// full is an executable file for cfg's user, else the failure as init words
// it after "exec: NAME: ".
func findExec(root *os.File, full, name string, cfg *configs.Config) string {
	f, err := sys.OpenInRoot(root, full)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if name == full || !strings.Contains(name, "/") {
			return (&os.PathError{Op: "stat", Path: full, Err: err}).Error()
		}
		return (&os.PathError{Op: "stat", Path: name, Err: err}).Error()
	}
	defer f.Close()
	st, err := sys.Fstat(f)
	if err != nil {
		return ""
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR.Error()
	}
	if !mayExec(&st, cfg) {
		return unix.EACCES.Error()
	}
	return ""
}

// mayExec is the kernel's exec permission check of a file (mode bits, not
// ACLs) for the process's user: any x bit with CAP_DAC_OVERRIDE in its
// effective set, else the owner's, group's or others' x bit. In a user
// namespace ids are compared as the host sees them.
func mayExec(st *unix.Stat_t, cfg *configs.Config) bool {
	if st.Mode&0o111 == 0 {
		return false
	}
	p := &cfg.Process
	if ns, ok := cfg.Namespace(configs.NEWUSER); ok && ns.Path != "" && len(cfg.UIDMappings) == 0 {
		return true // a joined user namespace whose maps we do not know
	}
	// Without a capabilities field the process keeps root's (a root
	// process) or none (setuid to another user clears them).
	if p.Capabilities == nil && p.UID == 0 || p.Capabilities != nil && slices.Contains(p.Capabilities.Effective, "CAP_DAC_OVERRIDE") {
		return true
	}
	uid, gid := hostID(cfg.UIDMappings, p.UID), hostID(cfg.GIDMappings, p.GID)
	if st.Uid == uid {
		return st.Mode&0o100 != 0
	}
	inGroup := st.Gid == gid
	for _, g := range p.AdditionalGids {
		if hostID(cfg.GIDMappings, g) == st.Gid {
			inGroup = true
		}
	}
	if inGroup {
		return st.Mode&0o010 != 0
	}
	return st.Mode&0o001 != 0
}
