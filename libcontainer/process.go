package libcontainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/cgroups"
	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/console"
	"github.com/ocirun/ocirun/libcontainer/exeseal"
	"github.com/ocirun/ocirun/libcontainer/internal/sys"
	"github.com/ocirun/ocirun/libcontainer/nsexec"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
	"github.com/ocirun/ocirun/libcontainer/seccomp"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// initProcess is the parent's view of one starting init.
type initProcess struct {
	root    *Root
	id      string
	dir     string
	cfg     *configs.Config
	opts    *CreateOpts
	log     *slog.Logger
	cg      cgroups.Manager
	cmd     *exec.Cmd
	sock    int // parent end of the socketpair
	logR    *os.File
	logDone chan struct{}
	initPid int
	created time.Time
	forked  bool
	exec    bool // an exec into a running container, not a create
	cinit   bool // init stays in C after the namespaces (cinit.go)
	fifoFd  int  // exec.fifo's fd number in init
	trace   *trace.Tracer
	lsm     hostLSM // decided on the host before init starts
}

func spansTotal(spans []trace.Span) time.Duration {
	var ms float64
	for _, s := range spans {
		ms += s.DurMS
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func (p *initProcess) cgroupPaths() map[string]string {
	if p.cg == nil {
		return nil
	}
	return p.cg.Paths()
}

// start prepares the cgroup, exec.fifo and sealed binary, and starts
// `ocirun init` from the sealed copy.
func (p *initProcess) start() error {
	p.created = time.Now().UTC()
	cg, err := cgroups.New(&p.cfg.Cgroups, p.id)
	if err != nil {
		return err
	}
	p.cg = cg
	if w, ok := cg.(interface{ SetWarn(func(string)) }); ok {
		w.SetWarn(func(msg string) { p.log.Warn("systemd cgroup: " + msg) })
	}
	// Only placement now; the limits come when init has built the rootfs
	// (see msgHooksPlease in drive).
	if err := cg.Apply(-1); err != nil {
		return err
	}
	p.trace.Mark("cgroup")
	fifoPath := filepath.Join(p.dir, fifoName)
	if err := unix.Mkfifo(fifoPath, 0o622); err != nil {
		return &os.PathError{Op: "mkfifo", Path: fifoPath, Err: err}
	}
	rootUID, rootGID := hostID(p.cfg.UIDMappings, 0), hostID(p.cfg.GIDMappings, 0)
	if err := os.Chown(fifoPath, int(rootUID), int(rootGID)); err != nil {
		return err
	}
	// Past our umask: init may have switched to a non-root user by the time it
	// opens the fifo for writing.
	if err := os.Chmod(fifoPath, 0o622); err != nil {
		return err
	}
	// Handed over as O_PATH: init reopens it for writing at the very end, so
	// nothing earlier in the container can open it.
	fifo, err := os.OpenFile(fifoPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer fifo.Close()
	return p.spawn(fifo)
}

// spawn starts `ocirun init` from a sealed copy of our binary with the
// socketpair, the log pipe, the exec fifo (nil for exec) and the preserved fds,
// in the container's cgroup.
func (p *initProcess) spawn(fifo *os.File) error {
	p.trace.Mark("fifo")
	exe, err := exeseal.CloneSelf()
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
	for i := 0; i < p.opts.PreserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-fd"))
	}
	base := 3 + len(extra)
	extra = append(extra, child, logW, exe)
	env := []string{
		envInitPipe + "=" + strconv.Itoa(base),
		envLogPipe + "=" + strconv.Itoa(base+1),
		envPreserve + "=" + strconv.Itoa(p.opts.PreserveFDs),
		envExeFd + "=" + strconv.Itoa(base+2),
		"GOMAXPROCS=1",
	}
	if fifo != nil {
		extra = append(extra, fifo)
		p.fifoFd = base + 3
		env = append(env, envFifoFd+"="+strconv.Itoa(p.fifoFd))
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/fd/" + strconv.Itoa(base+2),
		Args:        []string{"ocirun", "init"},
		Env:         env,
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		ExtraFiles:  extra,
		SysProcAttr: &unix.SysProcAttr{},
	}
	if cgfd, err := p.cg.CgroupFD(); err == nil {
		// cgroup v2: born in its cgroup (CLONE_INTO_CGROUP), no window outside it.
		defer cgfd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cgfd.Fd())
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start init: %w", err)
	}
	p.cmd = cmd
	p.trace.Mark("clone")
	p.logDone = make(chan struct{})
	go forwardLogs(logR, p.log, p.logDone)
	if err := setInitialAffinity(cmd.Process.Pid, p.cfg.Process.Attrs); err != nil {
		return err
	}
	if !cmd.SysProcAttr.UseCgroupFD {
		if err := p.cg.Apply(cmd.Process.Pid); err != nil {
			return err
		}
	}
	return nil
}

// drive runs the parent's side of the protocol until init says ready.
func (p *initProcess) drive() (*os.File, error) {
	p.cinit = p.useCInit()
	var process uint32
	if p.cinit {
		process = nsexec.ProcessCreate
		if p.exec {
			process = nsexec.ProcessExec
		}
	}
	boot, err := bootstrapFor(p.cfg, process)
	if err != nil {
		return nil, err
	}
	if err := writeFrame(p.sock, boot); err != nil {
		return nil, p.initError(fmt.Errorf("send bootstrap: %w", err))
	}
	m, _, err := recvMsg(p.sock)
	if err != nil {
		return nil, p.initError(err)
	}
	if m.Type == msgIdmapPlease {
		if err := writeIDMaps(p.cmd.Process.Pid, p.cfg); err != nil {
			return nil, err
		}
		if err := sendMsg(p.sock, &message{Type: msgIdmapDone}); err != nil {
			return nil, p.initError(err)
		}
		if m, _, err = recvMsg(p.sock); err != nil {
			return nil, p.initError(err)
		}
	}
	if m.Type == msgError {
		return nil, errors.New(m.Msg)
	}
	if m.Type != msgChild {
		return nil, fmt.Errorf("protocol: expected %q, got %q", msgChild, m.Type)
	}
	p.trace.Mark("namespace-stage")
	p.initPid = p.cmd.Process.Pid
	if m.Pid > 0 {
		// The C stage forked the real init (new pid/time namespace) and exits.
		p.initPid, p.forked = m.Pid, true
		_ = p.cmd.Wait()
	}
	if adj := p.cfg.Process.OOMScoreAdj; adj != nil {
		if err := setOOMScoreAdj(p.initPid, *adj); err != nil {
			return nil, err
		}
	}
	var bpf []byte
	if sc := p.cfg.Process.Seccomp; sc != nil {
		for _, name := range seccomp.UnknownSyscalls(sc) {
			p.log.Debug("seccomp: syscall unknown to libseccomp, rule skipped", "syscall", name)
		}
		prog, err := seccomp.Compile(sc)
		if err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", err)
		}
		bpf = seccomp.EncodeBPF(prog)
		p.trace.Mark("seccomp-compile")
	}
	if p.cinit {
		return p.driveC(bpf)
	}
	if err := sendMsg(p.sock, &message{Type: msgConfig, SeccompBPF: bpf, Exec: p.exec, ID: p.id, Bundle: p.opts.Bundle, NoNewKeyring: p.opts.NoNewKeyring, Trace: p.trace != nil, Config: p.cfg, Cgroup: p.cgroupMount(), LSM: p.lsm}); err != nil {
		return nil, p.initError(err)
	}
	var master *os.File
	for {
		m, files, err := recvMsg(p.sock)
		if err != nil {
			return master, p.initError(err)
		}
		switch m.Type {
		case msgHooksPlease:
			if err := p.limitsAndHooks(); err != nil {
				return master, err
			}
			if err := sendMsg(p.sock, &message{Type: msgHooksDone}); err != nil {
				return master, p.initError(err)
			}
		case msgConsole:
			if len(files) != 1 {
				closeFiles(files)
				return master, errors.New("protocol: console message without exactly one fd")
			}
			if p.opts.ConsoleSocket != "" {
				err := console.SendToSocket(p.opts.ConsoleSocket, files[0])
				files[0].Close()
				if err != nil {
					return nil, fmt.Errorf("send console to %s: %w", p.opts.ConsoleSocket, err)
				}
			} else {
				master = files[0]
			}
		case msgSeccompFd:
			if err := p.sendSeccompFd(files); err != nil {
				return master, err
			}
		case msgReady:
			p.trace.Add(m.Spans, "init", p.trace.Since()-spansTotal(m.Spans))
			p.trace.Mark("init")
			return master, nil
		case msgError:
			return master, errors.New(m.Msg)
		default:
			closeFiles(files)
			return master, fmt.Errorf("protocol: unexpected %q", m.Type)
		}
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

// initError marks a transport failure as init's: it died or broke the
// protocol (its own stderr, the container's, may say more).
func (p *initProcess) initError(err error) error {
	return fmt.Errorf("init: %w", err)
}

// limitsAndHooks runs once the rootfs is built: the limits go on now, before
// the hooks (which may adjust the cgroup) and before init turns into the
// container's process, as runc does. Not earlier: a tight memory, pids or
// cpu limit must not starve the runtime's own setup.
func (p *initProcess) limitsAndHooks() error {
	if p.cfg.Cgroups.Resources != nil {
		if err := p.cg.Set(p.cfg.Cgroups.Resources); err != nil {
			return err
		}
		p.trace.Mark("cgroup-limits")
	}
	return p.createHooks()
}

func (p *initProcess) createHooks() error {
	h := p.cfg.Hooks
	if len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer) == 0 {
		return nil
	}
	state := hookState(p.id, p.initPid, Created, p.opts.Bundle, p.cfg)
	// prestart is deprecated but still honoured, before createRuntime. Like runc,
	// createContainer hooks run here too, in the runtime's namespaces.
	for _, k := range []struct {
		name string
		hs   []configs.Hook
	}{{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer}} {
		if err := runHooks(k.name, k.hs, state); err != nil {
			return err
		}
	}
	return nil
}

func (p *initProcess) cgroupMount() *rootfs.CgroupMount {
	cm := &rootfs.CgroupMount{
		V2:          cgroups.IsV2(),
		NSCgroup:    hasNewNS(p.cfg, configs.NEWCGROUP),
		Paths:       p.cgroupPaths(),
		Controllers: map[string][]string{},
	}
	if hs, err := cgroups.Hierarchies(); err == nil {
		for _, h := range hs {
			cm.Controllers[h.Mountpoint] = h.Controllers
		}
	}
	return cm
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

// cleanup undoes a failed create: processes, cgroup, state dir.
func (p *initProcess) cleanup() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		if !p.forked {
			_ = p.cmd.Wait()
		}
	}
	if p.initPid > 0 && p.forked {
		// CLONE_PARENT made the forked init our child: reap it too.
		_ = unix.Kill(p.initPid, unix.SIGKILL)
		_, _ = unix.Wait4(p.initPid, nil, 0, nil)
	}
	if p.exec {
		p.closeParentEnds()
		return
	}
	if p.cg != nil {
		// Kill whatever else made it into the cgroup before removing it.
		if pids, err := p.cg.GetPids(); err == nil {
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			pids, err := p.cg.GetPids()
			if err != nil || len(pids) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err := p.cg.Destroy(); err != nil {
			p.log.Warn("cleanup: remove cgroup", "error", err)
		}
	}
	p.closeParentEnds()
	os.RemoveAll(p.dir)
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
