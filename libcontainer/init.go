package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/apparmor"
	"github.com/ocirun/ocirun/libcontainer/capabilities"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/libcontainer/home"
	"github.com/ocirun/ocirun/libcontainer/hooks"
	"github.com/ocirun/ocirun/libcontainer/internal/proto"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
	"github.com/ocirun/ocirun/libcontainer/label"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// Init is the Go stage of `ocirun init`, which builds a new container from
// inside where the parent cannot (a user namespace) or is told not to
// (OCIRUN_GO_INIT=1); exec and every other create stay in C (nsexec). The C
// stage already joined and created the namespaces. It never returns: it
// execs the user program or reports an error to the parent and exits.
func Init() {
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	// The sealed binary we were exec'd from is mapped now; its fd must not
	// stay open: args[0] = /proc/self/fd/N would run ocirun again inside the
	// container (a CVE-2024-21626 variant), before close-on-exec applies.
	if fd, err := envFd(envExeFd); err == nil {
		unix.Close(fd)
	}
	sock, err := envFd(envInitPipe)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocirun init:", err)
		os.Exit(1)
	}
	logFd, _ := envFd(envLogPipe)
	var log *slog.Logger
	if logFd > 0 {
		log = slog.New(slog.NewJSONHandler(os.NewFile(uintptr(logFd), "log-pipe"), &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		log = slog.New(slog.DiscardHandler)
	}
	conn := proto.GoInit(sock)
	err = initMain(conn, log)
	var ee *execError
	if errors.As(err, &ee) {
		// runc's words and status for a failed execve, as the C stage.
		fmt.Fprintln(os.Stderr, ee.Error())
		os.Exit(255)
	}
	if err != nil {
		// After "ready" the parent is gone and the socket closed: the
		// container's stderr is the only place left to say why.
		if conn.Done() || conn.Fail(err) != nil {
			fmt.Fprintln(os.Stderr, "ocirun init:", err)
		}
		os.Exit(1)
	}
	panic("unreachable")
}

func envFd(name string) (int, error) {
	v := os.Getenv(name)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return -1, fmt.Errorf("bad %s %q", name, v)
	}
	return fd, nil
}

func initMain(conn *proto.Conn, log *slog.Logger) error {
	msg, files, err := conn.Recv()
	if err != nil {
		return err
	}
	m := msg.(proto.Config)
	cfg := m.Config
	if cfg == nil {
		closeFiles(files)
		return errors.New("protocol: config message without config")
	}
	if len(files) != len(m.IDMapped) {
		closeFiles(files)
		return fmt.Errorf("protocol: config with %d fds for %d idmapped mounts", len(files), len(m.IDMapped))
	}
	idmapped := map[int]*os.File{}
	for i, idx := range m.IDMapped {
		if idx < 0 || idx >= len(cfg.Mounts) || !cfg.Mounts[idx].IDMapped || idmapped[idx] != nil {
			closeFiles(files)
			return fmt.Errorf("protocol: config names mounts[%d] as idmapped", idx)
		}
		idmapped[idx] = files[i]
	}
	// The parent refused what the host cannot apply; checked again here so a
	// label never reaches a kernel that would not enforce it.
	lsm := hostLSM{SELinux: m.LSM.SELinux, AppArmor: m.LSM.AppArmor}
	if err := lsm.checkProcess(&cfg.Process); err != nil {
		return err
	}
	preserve, _ := strconv.Atoi(os.Getenv(envPreserve))
	fifoFd, _ := envFd(envFifoFd)
	// The user program gets exactly the config's environment.
	os.Clearenv()
	for _, kv := range cfg.Process.Env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}

	var rec *trace.Recorder
	if m.Trace {
		rec = trace.NewRecorder()
	}
	proc, err := buildContainer(conn, &m, idmapped, rec, log)
	for _, f := range idmapped {
		f.Close() // those the rootfs did not take: it failed first
	}
	if err != nil {
		return err
	}
	defer proc.Close()
	if home.Needed(cfg.Process.Env) {
		// After pivot_root: the container's own /etc/passwd, as runc reads it.
		dir, err := lookupHome("/", cfg.Process.UID)
		if err != nil {
			log.Debug("HOME not set in process.env, and reading the container's /etc/passwd failed", "uid", cfg.Process.UID, "error", err)
		}
		cfg.Process.Env = home.Set(cfg.Process.Env, dir)
	}
	// Every fd but stdio and the preserved ones closes at execve. Done now,
	// before a seccomp filter that may deny close_range; whatever init opens
	// from here on is O_CLOEXEC.
	if err := unix.CloseRange(uint(3+preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return os.NewSyscallError("close_range", err)
	}
	if err := setupProcess(conn, &cfg.Process, m.SeccompBPF, log); err != nil {
		return err
	}
	rec.Mark("security")
	path, err := lookPath(cfg.Process.Args[0])
	if err != nil {
		return err
	}
	rec.Mark("lookpath")
	log.Debug("init: program resolved", "arg0", cfg.Process.Args[0], "path", path)
	// With no_new_privs the filter goes on as late as possible, so as few of
	// our own syscalls as possible have to pass it: right before execve, as
	// runc does. A NOTIFY profile's listener fd must still reach the parent,
	// so that one is loaded while the socket is open.
	sc := cfg.Process.Seccomp
	lateSeccomp := sc != nil && cfg.Process.NoNewPrivs && !sc.HasNotify()
	if sc != nil && cfg.Process.NoNewPrivs && sc.HasNotify() {
		if err := loadSeccomp(conn, sc, m.SeccompBPF); err != nil {
			return err
		}
		rec.Mark("seccomp")
	}
	var spans []trace.Span
	if rec != nil {
		spans = rec.Spans
	}
	log.Debug("init: ready; waiting on exec.fifo for start")
	if err := conn.Send(proto.Ready{Spans: spans}); err != nil {
		return err
	}
	// Only once state.json records us may we wait on exec.fifo: EOF here
	// means the creator was killed, and an init nobody knows of must not
	// live on (proto's "commit").
	if _, _, err := conn.Recv(); err != nil {
		os.Exit(1)
	}
	unix.Close(conn.Fd())

	// Blocks until `ocirun start` opens the fifo for reading.
	fifo, err := unix.Openat(int(proc.Fd()), "self/fd/"+strconv.Itoa(fifoFd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("open exec fifo", err)
	}
	if _, err := unix.Write(fifo, []byte("0")); err != nil {
		return os.NewSyscallError("write exec fifo", err)
	}
	// The fifo stays open until execve closes it (O_CLOEXEC): `start` reads
	// EOF only once the user program runs, and runs the poststart hooks then.
	// The startContainer hooks run under the container's seccomp profile,
	// as in runc 1.4 (which loads it before the wait on exec.fifo).
	if lateSeccomp {
		if err := loadSeccomp(nil, sc, m.SeccompBPF); err != nil {
			return err
		}
	}
	if err := runHooks(m.ID, os.Getpid(), Created, m.Bundle, cfg, log, hooks.StartContainer); err != nil {
		// Nobody waits on the socket any more: stderr is the container's.
		fmt.Fprintln(os.Stderr, "ocirun:", err)
		os.Exit(1)
	}
	return execUser(path, cfg, preserve)
}

// buildContainer sets up what a new container has and an exec joins: the
// rootfs and the mounts, the hooks' turn, pivot_root, the console, hostname,
// sysctls and the masked and read-only paths. It returns an O_PATH handle on
// the procfs we started with, for reopening exec.fifo later.
func buildContainer(conn *proto.Conn, m *proto.Config, idmapped map[int]*os.File, rec *trace.Recorder, log *slog.Logger) (*os.File, error) {
	cfg := m.Config
	if !m.NoNewKeyring {
		if err := joinSessionKeyring(m.ID, cfg.Process.SelinuxLabel); err != nil {
			return nil, err
		}
	}
	rec.Mark("keyring")
	// Without SELinux on the host the parent warned about the mount label.
	opts := rootfs.Options{IDMapped: idmapped}
	if m.LSM.SELinux {
		opts.MountLabel = cfg.MountLabel
	}
	if err := rootfs.Prepare(cfg, m.Cgroup, opts); err != nil {
		return nil, err
	}
	rec.Mark("mounts")
	log.Debug("init: rootfs mounted", "mounts", len(cfg.Mounts))
	if err := conn.Send(proto.HooksPlease{}); err != nil {
		return nil, err
	}
	if _, _, err := conn.Recv(); err != nil {
		return nil, err
	}
	rec.Mark("hooks")
	if err := rootfs.Pivot(cfg); err != nil {
		return nil, err
	}
	rec.Mark("pivot")
	log.Debug("init: root is the rootfs", "rootfs", cfg.Rootfs, "pivot_root", !cfg.NoPivot)
	proc, err := privateProc()
	if err != nil {
		return nil, err
	}
	if err := finishContainer(conn, cfg, rec); err != nil {
		proc.Close()
		return nil, err
	}
	return proc, nil
}

// privateProc returns a detached procfs of the container's own pid namespace
// (fsopen, never attached anywhere) for reopening exec.fifo at the end. Not
// the host's /proc: a handle on that, leaked as a cwd or an exec path, would
// be a way out (CVE-2024-21626); not the container's /proc mount either,
// which a container may lack. Falls back to the container's /proc, checked
// to be a procfs, where procfs cannot be mounted.
func privateProc() (*os.File, error) {
	if fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC); err == nil {
		defer unix.Close(fs)
		if err := unix.FsconfigCreate(fs); err == nil {
			if mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC); err == nil {
				return os.NewFile(uintptr(mnt), "procfs"), nil
			}
		}
	}
	proc, err := os.OpenFile("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open procfs for exec.fifo: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(proc.Fd()), &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		proc.Close()
		return nil, errors.New("open procfs for exec.fifo: /proc is not a procfs")
	}
	return proc, nil
}

func finishContainer(conn *proto.Conn, cfg *configs.Config, rec *trace.Recorder) error {
	if cfg.Process.Terminal {
		if err := setupConsole(conn, cfg); err != nil {
			return err
		}
	}
	// The profile applies at execve; set in runc's order, after the hostname
	// and before sysctls and the masked and read-only paths.
	applyProfile := func() error { return apparmor.ApplyProfile(cfg.Process.ApparmorProfile) }
	if err := setupNamespaces(cfg, applyProfile); err != nil {
		return err
	}
	rec.Mark("finalize")
	return nil
}

// setupNamespaces sets up what belongs to the container's namespaces once
// its root is in place: lo, hostname, domain name, sysctls, the read-only
// root and the masked and read-only paths. The Go init does it from inside;
// for a C init, a parent thread that joined the namespaces does (cinit.go).
// beforeSysctls, if not nil, runs after the hostname.
func setupNamespaces(cfg *configs.Config, beforeSysctls func() error) error {
	if ns, ok := cfg.Namespace(configs.NEWNET); ok && ns.Path == "" {
		// A new network namespace has only lo, and down: programs expect
		// 127.0.0.1 to work, as runc and crun set it up.
		if err := sys.LinkUp("lo"); err != nil {
			return fmt.Errorf("set up loopback: %w", err)
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return os.NewSyscallError("sethostname", err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return os.NewSyscallError("setdomainname", err)
		}
	}
	if beforeSysctls != nil {
		if err := beforeSysctls(); err != nil {
			return err
		}
	}
	if len(cfg.Sysctl) > 0 {
		if err := rootfs.WriteSysctls(cfg.Sysctl); err != nil {
			return err
		}
	}
	return rootfs.Finalize(cfg)
}

// setupConsole opens a pty in the container's devpts, mounts the slave on
// /dev/console, makes it our controlling terminal and sends the master to
// the parent.
func setupConsole(conn *proto.Conn, cfg *configs.Config) error {
	master, slave, err := openConsole(cfg, true)
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if err := console.SetupControllingTerminal(slave); err != nil {
		return err
	}
	return conn.Send(proto.Console{}, int(master.Fd()))
}

// openConsole opens a pty pair in the caller's /dev (the container's), with
// the configured size, and a new container's slave on /dev/console.
func openConsole(cfg *configs.Config, mountConsole bool) (master, slave *os.File, err error) {
	master, slave, err = console.OpenPty()
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			master.Close()
			slave.Close()
		}
	}()
	if cfg.Process.ConsoleHeight > 0 || cfg.Process.ConsoleWidth > 0 {
		if err := console.SetSize(master, uint16(cfg.Process.ConsoleHeight), uint16(cfg.Process.ConsoleWidth)); err != nil {
			return nil, nil, err
		}
	}
	// The terminal of a non-root process is its own, as runc makes it (the
	// group stays devpts's, tty). As runc, an id the inode cannot take (not
	// mapped: EINVAL, EPERM; a read-only /dev: EROFS) leaves it as it is.
	if uid := cfg.Process.UID; uid != 0 {
		err := unix.Fchown(int(slave.Fd()), int(uid), -1)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return nil, nil, fmt.Errorf("chown the terminal to uid %d: %w", uid, os.NewSyscallError("fchown", err))
		}
	}
	if mountConsole {
		if err := rootfs.MountConsole(slave); err != nil {
			return nil, nil, err
		}
	}
	return master, slave, nil
}

// setupProcess applies rlimits, no_new_privs, the SELinux exec label, the
// user and the capabilities, in the order that keeps each step possible.
// oom_score_adj is not here: the parent wrote it from the host.
func setupProcess(conn *proto.Conn, p *configs.Process, bpf []byte, log *slog.Logger) error {
	for _, rl := range p.Rlimits {
		lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := unix.Setrlimit(rl.Type, &lim); err != nil {
			return fmt.Errorf("process.rlimits: setrlimit %s (soft %d, hard %d): %w", rl.Name, rl.Soft, rl.Hard, err)
		}
	}
	if p.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", err)
		}
	}
	if err := applyEarlyAttrs(p); err != nil {
		return err
	}
	if err := label.SetProcessLabel(p.SelinuxLabel); err != nil {
		return err
	}
	var caps *capabilities.Caps
	if p.Capabilities != nil {
		c, warnings, err := capabilities.New(p.Capabilities)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		caps = c
		if err := caps.ApplyBounding(); err != nil {
			return err
		}
		if err := capabilities.SetKeepCaps(); err != nil {
			return err
		}
	}
	// The cwd is entered while we are still root, as runc does: a user
	// without search permission on a directory on the way still starts
	// there. Only a permission error is tried again as the user, who may
	// reach what root cannot (root squashing).
	cwdErr := unix.Chdir(p.Cwd)
	if cwdErr != nil && !errors.Is(cwdErr, unix.EACCES) && !errors.Is(cwdErr, unix.EPERM) {
		return &os.PathError{Op: "chdir", Path: p.Cwd, Err: cwdErr}
	}
	if err := setUser(p); err != nil {
		return err
	}
	log.Debug("init: user set", "uid", p.UID, "gid", p.GID, "groups", len(p.AdditionalGids))
	if cwdErr != nil {
		if err := unix.Chdir(p.Cwd); err != nil {
			return &os.PathError{Op: "chdir", Path: p.Cwd, Err: err}
		}
	}
	log.Debug("init: cwd entered", "cwd", p.Cwd, "as_root", cwdErr == nil)
	// A leaked host fd as cwd (CVE-2024-21626) would leave us outside the root:
	// getcwd then fails or returns a path outside it. Checked before seccomp,
	// which may well deny getcwd. The raw syscall, not os.Getwd: that trusts
	// $PWD (from the config) whenever it stats the same as ".", and a host
	// procfs bound on /proc makes the runtime's own /proc fd look like it.
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("current working directory is outside of container mount namespace root: %w", err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("current working directory %q is outside of container mount namespace root", wd)
	}
	if p.Seccomp != nil && !p.NoNewPrivs {
		// Without no_new_privs the filter needs CAP_SYS_ADMIN: load it while
		// the permitted set still has it, before the final capability sets.
		if err := capabilities.RaisePermitted(); err != nil {
			return err
		}
		if err := loadSeccomp(conn, p.Seccomp, bpf); err != nil {
			return err
		}
	}
	if caps != nil {
		if err := capabilities.ClearKeepCaps(); err != nil {
			return err
		}
		warnings, err := caps.ApplyCaps()
		if err != nil {
			return err
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		log.Debug("init: capabilities applied")
	}
	return nil
}

// loadSeccomp installs the filter on every thread; a NOTIFY profile's
// listener fd goes to the parent (which hands it to listenerPath) and is
// closed here, so the container can never answer its own notifications.
func loadSeccomp(conn *proto.Conn, c *configs.Seccomp, bpf []byte) error {
	fd, err := seccomp.LoadProgram(bpf, c)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if conn == nil {
		return errors.New("linux.seccomp: a listener after the socket closed")
	}
	return conn.Send(proto.SeccompFd{}, fd)
}

// fixStdio gives the process's user the stdio it inherits, as the C
// process stage does (fix_stdio in process.c, which says why).
func fixStdio(uid uint32) error {
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("give fd %d (stdio) to uid %d: %w", fd, uid, err)
		}
		typ := st.Mode & unix.S_IFMT
		pty := typ == unix.S_IFCHR && unix.Major(st.Rdev) >= 136 && unix.Major(st.Rdev) <= 143
		if st.Uid == uid || !(typ == unix.S_IFIFO || typ == unix.S_IFSOCK || pty) {
			continue
		}
		err := unix.Fchown(fd, int(uid), int(st.Gid))
		if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("give fd %d (stdio) to uid %d: %w", fd, uid, err)
		}
	}
	return nil
}

func setUser(p *configs.Process) error {
	if err := fixStdio(p.UID); err != nil {
		return err
	}
	gids := make([]int, len(p.AdditionalGids))
	for i, g := range p.AdditionalGids {
		gids[i] = int(g)
	}
	// setgroups is denied in a user namespace whose setgroups file says so
	// (rootless); there the only group is the mapped one.
	if err := unix.Setgroups(gids); err != nil {
		if !errors.Is(err, unix.EPERM) || !setgroupsDenied() {
			return os.NewSyscallError("setgroups", err)
		}
	}
	// Raw syscalls: the Go wrappers would signal all threads, and only this one
	// is ours to change before execve.
	if err := unix.Setresgid(int(p.GID), int(p.GID), int(p.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", p.GID, err)
	}
	if err := unix.Setresuid(int(p.UID), int(p.UID), int(p.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", p.UID, err)
	}
	return nil
}

// setgroupsDenied reads /proc/self/setgroups through a private procfs
// handle: the container's /proc could hold a fake "deny" that would let the
// process keep the runtime's supplementary groups.
func setgroupsDenied() bool {
	f, err := sys.OpenProcPid(os.Getpid(), "setgroups", unix.O_RDONLY)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return err == nil && strings.TrimSpace(string(b)) == "deny"
}

// lookPath resolves args[0] with the container's PATH (already in our env),
// with the wording podman maps to exit code 127.
func lookPath(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	return path, nil
}

// execUser sets the umask and replaces init with the user program; every fd
// but stdio and the preserved ones is close-on-exec by now.
func execUser(path string, cfg *configs.Config, preserve int) error {
	// Without an explicit umask the container gets 0022, whatever ours was.
	umask := 0o022
	if cfg.Process.Umask != nil {
		umask = int(*cfg.Process.Umask)
	}
	unix.Umask(umask)
	env := cfg.Process.Env
	if preserve > 0 {
		// systemd socket activation inside the container, as runc sets it.
		env = append(env[:len(env):len(env)], "LISTEN_FDS="+strconv.Itoa(preserve), "LISTEN_PID=1")
	}
	if err := applyFinalAttrs(&cfg.Process); err != nil {
		return err
	}
	err := unix.Exec(path, cfg.Process.Args, env)
	return &execError{path: path, err: err}
}

// execError is a failed execve of the user program: "exec PATH: ERRNO".
type execError struct {
	path string
	err  error
}

func (e *execError) Error() string { return "exec " + e.path + ": " + e.err.Error() }
func (e *execError) Unwrap() error { return e.err }

// sessionKeyring names container id's session keyring, as runc does: its
// init makes it, and every process exec starts joins it.
func sessionKeyring(id string) string { return "_ses." + id }

// joinSessionKeyring gives the container a session keyring of its own, so it
// cannot read or link the keys of the host session it was started from. With
// a process label (the parent checked SELinux is on) the keyring is created
// with it, or the labelled process could not use its own keyring.
func joinSessionKeyring(id, processLabel string) error {
	if processLabel != "" {
		if err := label.SetKeyLabel(processLabel); err != nil {
			return err
		}
		defer func() { _ = label.SetKeyLabel("") }()
	}
	key, err := unix.KeyctlJoinSessionKeyring(sessionKeyring(id))
	if errors.Is(err, unix.ENOSYS) {
		return nil // kernel without keyrings: nothing to isolate
	}
	if err != nil {
		return fmt.Errorf("join session keyring: %w", err)
	}
	// possessor: all; user: view, read, write, search, link, setattr.
	const perm = 0x3f3f0000
	if err := unix.KeyctlSetperm(key, perm); err != nil {
		return fmt.Errorf("set session keyring permissions: %w", err)
	}
	return nil
}
