package libcontainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/libcontainer/exeseal"
	"github.com/ocirun/ocirun/libcontainer/home"
	"github.com/ocirun/ocirun/libcontainer/internal/proto"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// Env names through which the parent hands fds to `ocirun init`.
const (
	envInitPipe = "_OCIRUN_INITPIPE"
	envLogPipe  = "_OCIRUN_LOGPIPE"
	envFifoFd   = "_OCIRUN_FIFOFD"
	envPreserve = "_OCIRUN_PRESERVE_FDS"
	envExeFd    = "_OCIRUN_EXEFD"
	// envCgroupTasks lists the fds of the v1 `tasks` files init writes "0"
	// to (initProcess.selfJoin).
	envCgroupTasks = "_OCIRUN_CGROUP_TASKS"
)

// initProcess is the parent's end of one starting `ocirun init`, whatever it
// becomes: the spawn from the sealed binary in the container's cgroup, the
// socket and its route, init's log pipe, the namespace stage's handshake and
// the messages every route ends with. createInit (parent_create.go) and
// execInit (parent_exec.go) drive the rest.
type initProcess struct {
	id          string
	bundle      string
	annotations map[string]string
	// proc is the process init becomes: the container's, or the exec'd one.
	proc          *configs.Process
	consoleSocket string
	preserveFDs   int
	log           *slog.Logger
	trace         *trace.Tracer
	lsm           hostLSM // decided on the host before init starts
	running       bool    // what the seccomp agent is told: an exec joins a running container
	sealDir       string  // exeseal's second layer: the state root
	seccompCache  string  // Root.SeccompCache

	conn *proto.Conn
	sock int // parent end of the socketpair
	// started is the process spawn started (the C stage; init itself unless
	// it forked), 0 once reaped or before.
	started int
	logR    *os.File
	logDone chan struct{}
	initPid int
	forked  bool
	fifoFd  int // exec.fifo's fd number in init
}

func spansTotal(spans []trace.Span) time.Duration {
	var ms float64
	for _, s := range spans {
		ms += s.DurMS
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// spawn starts `ocirun init` from a sealed copy of our binary with the
// socketpair, the log pipe, the exec fifo (nil for exec) and the preserved
// fds, in cg, along route.
func (p *initProcess) spawn(cg cgroups.Manager, fifo *os.File, route proto.Route) error {
	p.trace.Mark("fifo")
	exe, err := exeseal.CloneSelf(p.sealDir)
	if err != nil {
		return fmt.Errorf("seal ocirun binary: %w", err)
	}
	defer exe.Close()
	p.trace.Mark("seal")
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socketpair", err)
	}
	p.sock = fds[0]
	p.conn = proto.NewConn(p.sock, proto.Parent, route)
	child := os.NewFile(uintptr(fds[1]), "init-sock")
	defer child.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer logW.Close()
	p.logR = logR

	// Preserved fds keep their numbers (3..3+N-1); ours follow them.
	var extra []*os.File
	for i := 0; i < p.preserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd"))
	}
	base := 3 + len(extra)
	extra = append(extra, child, logW, exe)
	env := []string{
		envInitPipe + "=" + strconv.Itoa(base),
		envLogPipe + "=" + strconv.Itoa(base+1),
		envPreserve + "=" + strconv.Itoa(p.preserveFDs),
		envExeFd + "=" + strconv.Itoa(base+2),
		"GOMAXPROCS=1",
	}
	if fifo != nil {
		extra = append(extra, fifo)
		p.fifoFd = base + 3
		env = append(env, envFifoFd+"="+strconv.Itoa(p.fifoFd))
	}
	join, err := p.selfJoin(cg)
	if err != nil {
		return err
	}
	if join != nil {
		defer join.Close()
		var fds []string
		for _, f := range join.Tasks {
			extra = append(extra, f)
			fds = append(fds, strconv.Itoa(3+len(extra)-1))
		}
		env = append(env, envCgroupTasks+"="+strings.Join(fds, ","))
	}
	sysAttr := &unix.SysProcAttr{}
	if join != nil {
		if join.Dir != nil {
			sysAttr.UseCgroupFD = true
			sysAttr.CgroupFD = int(join.Dir.Fd())
		}
	} else if cgfd, err := cg.CgroupFD(); err == nil {
		// cgroup v2: born in its cgroup (CLONE_INTO_CGROUP), no window outside it.
		defer cgfd.Close()
		sysAttr.UseCgroupFD = true
		sysAttr.CgroupFD = int(cgfd.Fd())
	}
	// syscall.ForkExec, not os/exec: the first os.StartProcess of a process
	// probes pidfd support by forking a child that exits at once, and init
	// is waited for by pid anyway.
	files := []uintptr{0, 1, 2}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	pid, err := syscall.ForkExec("/proc/self/fd/"+strconv.Itoa(base+2), []string{"ocirun", "init"},
		&syscall.ProcAttr{Env: env, Files: files, Sys: sysAttr})
	if err != nil {
		return fmt.Errorf("start init: %w", err)
	}
	p.started = pid
	p.trace.Mark("clone")
	p.log.Debug("init started from the sealed binary", "pid", pid, "route", route.String())
	p.logDone = make(chan struct{})
	go forwardLogs(logR, p.log, p.logDone)
	if err := setInitialAffinity(pid, p.proc.Attrs); err != nil {
		return err
	}
	if join == nil && !sysAttr.UseCgroupFD {
		if err := cg.Apply(pid); err != nil {
			return err
		}
	}
	resetAffinity(pid, p.proc.Attrs, p.log)
	return nil
}

// reapStarted waits for the process spawn started, once.
func (p *initProcess) reapStarted() {
	if p.started <= 0 {
		return
	}
	for {
		if _, err := unix.Wait4(p.started, nil, 0, nil); err != unix.EINTR {
			break
		}
	}
	p.started = 0
}

// selfJoin returns the files with which init joins cg's v1 hierarchies by
// itself, in its first C code (nsexec.c), or nil when the parent moves it
// by pid: a cgroup that is not v1 (CLONE_INTO_CGROUP or systemd places
// init there), or an initial CPU affinity, which must be set before the move
// and not race with it.
func (p *initProcess) selfJoin(cg cgroups.Manager) (*cgroups.SelfJoin, error) {
	j, ok := cg.(cgroups.SelfJoiner)
	if !ok {
		return nil, nil
	}
	if a := p.proc.Attrs; a != nil && a.CPUAffinity != nil && a.CPUAffinity.Initial != nil {
		return nil, nil
	}
	join, err := j.SelfJoin()
	if err != nil || len(join.Tasks) > 0 {
		return join, err
	}
	join.Close()
	return nil, nil
}

// sendBootstrap starts the namespace stage. What the parent does from here
// until awaitChild overlaps with it: init is a process of its own.
func (p *initProcess) sendBootstrap(boot nsexec.Bootstrap) error {
	b, err := boot.Encode()
	if err != nil {
		return err
	}
	if err := p.conn.Send(proto.Bootstrap(b)); err != nil {
		return p.initError(fmt.Errorf("send bootstrap: %w", err))
	}
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("bootstrap sent", "join", len(boot.Join), "clone_flags", fmt.Sprintf("%#x", boot.CloneFlags), "fork", boot.Fork)
	}
	return nil
}

// awaitChild ends the namespace stage: the id maps of a new user namespace
// written from here (idmaps non-nil), the pid of the init that goes on
// back. Then oom_score_adj, which we write from the host.
func (p *initProcess) awaitChild(idmaps *configs.Config) error {
	m, _, err := p.conn.Recv()
	if err != nil {
		return p.initError(err)
	}
	if _, ok := m.(proto.IdmapPlease); ok {
		if err := writeIDMaps(p.started, idmaps); err != nil {
			return err
		}
		if err := p.conn.Send(proto.IdmapDone{}); err != nil {
			return p.initError(err)
		}
		if m, _, err = p.conn.Recv(); err != nil {
			return p.initError(err)
		}
	}
	p.trace.Mark("namespace-stage")
	p.initPid = p.started
	defer func() { p.log.Debug("init's namespace stage done", "init", p.initPid, "forked", p.forked) }()
	if child := m.(proto.Child); child.Pid > 0 {
		// The C stage forked the real init (new pid/time namespace) and exits.
		p.initPid, p.forked = child.Pid, true
		p.reapStarted()
	}
	if adj := p.proc.OOMScoreAdj; adj != nil {
		if err := setOOMScoreAdj(p.initPid, *adj); err != nil {
			return err
		}
	}
	return nil
}

// seccompProgram compiles the process's filter, here: init has no
// libseccomp work to do under the container's rlimits, and a C init none at all.
func (p *initProcess) seccompProgram() ([]byte, error) {
	sc := p.proc.Seccomp
	if sc == nil {
		return nil, nil
	}
	if p.log.Enabled(context.Background(), slog.LevelDebug) { // a libseccomp lookup per rule
		for _, name := range seccomp.UnknownSyscalls(sc) {
			p.log.Debug("seccomp: syscall unknown to libseccomp, rule skipped", "syscall", name)
		}
	}
	cache := seccomp.Cache{Dir: p.seccompCache, Debug: p.log.Debug}
	bpf, hit, err := cache.Compile(sc)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	if hit {
		p.trace.Mark("seccomp-cached")
	} else {
		p.trace.Mark("seccomp-compile")
	}
	return bpf, nil
}

// finish reads what every route ends with: a pty master (exec with a
// terminal), a seccomp listener, and ready. It returns the master for a
// caller in the foreground.
func (p *initProcess) finish(master *os.File) (*os.File, error) {
	for {
		m, files, err := p.conn.Recv()
		if err != nil {
			return master, p.recvError(err)
		}
		switch m := m.(type) {
		case proto.Console:
			if master, err = p.consoleMaster(files[0]); err != nil {
				return nil, err
			}
		case proto.SeccompFd:
			if err := p.sendSeccompFd(files[0]); err != nil {
				return master, err
			}
		case proto.Ready:
			p.trace.Add(m.Spans, "init", p.trace.Since()-spansTotal(m.Spans))
			p.trace.Mark("init")
			for _, l := range m.Log {
				var level slog.Level
				if l.Level == "warning" {
					level = slog.LevelWarn
				} else if err := level.UnmarshalText([]byte(l.Level)); err != nil {
					level = slog.LevelInfo
				}
				p.log.Log(context.Background(), level, l.Msg, "from", "init")
			}
			p.log.Debug("init is ready", "pid", p.initPid)
			return master, nil
		default:
			closeFiles(files)
			return master, fmt.Errorf("protocol: unexpected %q", m.Kind())
		}
	}
}

// recvError turns what init said went wrong into the user's error: the
// words of a C init's failed step come from the config (stepError).
func (p *initProcess) recvError(err error) error {
	var e *proto.Error
	if errors.As(err, &e) {
		if e.Step != "" {
			return stepError(p.proc, e)
		}
		return errors.New(e.Msg)
	}
	return p.initError(err)
}

// consoleMaster hands a pty master to the console socket, or returns it to
// a caller in the foreground.
func (p *initProcess) consoleMaster(f *os.File) (*os.File, error) {
	if p.consoleSocket == "" {
		return f, nil
	}
	defer f.Close()
	if err := console.SendToSocket(p.consoleSocket, f); err != nil {
		return nil, fmt.Errorf("send console to %s: %w", p.consoleSocket, err)
	}
	return nil, nil
}

// initError marks a transport failure as init's: it died or broke the
// protocol (its own stderr, the container's, may say more).
func (p *initProcess) initError(err error) error {
	return fmt.Errorf("init: %w", err)
}

// kill ends a failed init and reaps it.
func (p *initProcess) kill() {
	if p.started > 0 {
		_ = unix.Kill(p.started, unix.SIGKILL)
		p.reapStarted()
	}
	if p.initPid > 0 && p.forked {
		// CLONE_PARENT made the forked init our child: reap it too.
		_ = unix.Kill(p.initPid, unix.SIGKILL)
		_, _ = unix.Wait4(p.initPid, nil, 0, nil)
	}
}

func (p *initProcess) closeParentEnds() {
	if p.sock > 0 {
		unix.Close(p.sock)
		p.sock = -1
	}
	if p.logR != nil {
		// Init keeps its end open until it execs: don't wait for EOF, take
		// what it has written so far (all it wrote before "ready") and stop.
		_ = p.logR.SetReadDeadline(time.Now())
		if p.logDone != nil { // nil when init never started
			<-p.logDone
		}
		p.logR.Close()
		p.logR = nil
	}
}

// lookupHome is runc's $HOME for a process without one: the home of uid in
// /etc/passwd of the container whose root is at root (our own "/" on a
// thread inside it, /proc/PID/root from the host). A file that cannot be
// read gives "/", with a debug line, as runc.
func (p *initProcess) lookupHome(root string, uid uint32) string {
	dir, err := lookupHome(root, uid)
	if err != nil {
		p.log.Debug("HOME not set in process.env, and reading the container's /etc/passwd failed", "uid", uid, "error", err)
	}
	return dir
}

func lookupHome(root string, uid uint32) (string, error) {
	r, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return home.Default, err
	}
	defer r.Close()
	return home.Lookup(r, uid)
}

// forwardLogs copies init's slog JSON lines to our logger at their level.
func forwardLogs(r *os.File, log *slog.Logger, done chan struct{}) {
	defer close(done)
	dec := json.NewDecoder(r)
	for {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			return
		}
		msg, _ := line["msg"].(string)
		lvl, _ := line["level"].(string)
		var level slog.Level
		_ = level.UnmarshalText([]byte(lvl))
		log.Log(context.Background(), level, msg, "from", "init")
	}
}

// setOOMScoreAdj writes init's oom_score_adj from here, on the host, through
// a private procfs handle and before init reads its config: init writing it
// itself would go through the container's /proc, where a fake file can catch
// the write (an exec into a container that mounted over its /proc). init is
// our child and not yet reaped, so its pid cannot have been reused.
func setOOMScoreAdj(pid, adj int) error {
	f, err := sys.OpenProcPid(pid, "oom_score_adj", unix.O_WRONLY)
	if err != nil {
		return fmt.Errorf("process.oomScoreAdj: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(strconv.Itoa(adj)); err != nil {
		return fmt.Errorf("process.oomScoreAdj %d: %w", adj, err)
	}
	return nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// sendSeccompFd hands the container's seccomp notify fd, with the container
// process state the spec describes, to linux.seccomp.listenerPath.
func (p *initProcess) sendSeccompFd(fd *os.File) error {
	defer fd.Close()
	sc := p.proc.Seccomp
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("protocol: unexpected seccomp-fd message")
	}
	status := Created
	if p.running {
		status = Running
	}
	st := specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      p.initPid,
		Metadata: sc.ListenerMetadata,
		State: specs.State{
			Version:     specs.Version,
			ID:          p.id,
			Status:      specs.ContainerState(status.String()),
			Pid:         p.initPid,
			Bundle:      p.bundle,
			Annotations: p.annotations,
		},
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := seccomp.SendNotifyFd(sc.ListenerPath, int(fd.Fd()), b); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", sc.ListenerPath, err)
	}
	return nil
}
