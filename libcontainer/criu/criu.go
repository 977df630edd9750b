// Package criu drives CRIU for checkpoint and restore: the options with
// runc's meaning, `criu swrk` and its RPC, criu's log in errors, and what is
// recorded beside the images. The container lifecycle around it is
// libcontainer's, in files built unless the nocriu tag is given.
package criu

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CRIU is driven through `criu swrk`, its RPC over a SOCK_SEQPACKET socket
// (one protobuf message per packet). Our own spawn rather than go-criu's:
// the restore needs criu born in the container's cgroup, with our stdio and
// the inherited fds (netns, pipes) at known numbers.
//
//	ocirun                           criu swrk 3
//	  ── req{DUMP|RESTORE, opts} ──────▶
//	  ◀──────── resp{NOTIFY, script} ─   (post-restore carries the new pid)
//	  ── req{NOTIFY, success} ────────▶   (repeated per notify script)
//	  ◀──────────────── resp{type} ───   (success false: cr_errmsg, and the log)

// Opts are checkpoint's and restore's flags, with runc's meaning.
type Opts struct {
	// CriuPath is the criu binary (--criu): a name looked up in PATH or a path.
	CriuPath string
	// ImagesDir holds the images; WorkDir the logs (default: ImagesDir).
	ImagesDir string
	WorkDir   string
	// ParentImage is the previous pre-dump, relative to ImagesDir.
	ParentImage       string
	LeaveRunning      bool
	TCPEstablished    bool
	ExtUnixSk         bool
	ShellJob          bool
	FileLocks         bool
	PreDump           bool
	AutoDedup         bool
	LazyPages         bool
	StatusFd          int // -1: none
	PageServerAddress string
	PageServerPort    int32
	// ManageCgroupsMode is soft, full, strict or ignore ("" is criu's default, soft).
	ManageCgroupsMode string
	// EmptyNs is CLONE_NEW* flags of namespaces created empty on restore and
	// not dumped (network always: the runtime does not manage interfaces).
	EmptyNs         uint32
	LsmProfile      string
	LsmMountContext string
}

var cgModes = map[string]CgMode{
	"soft":   CgSoft,
	"full":   CgFull,
	"strict": CgStrict,
	"ignore": CgIgnore,
}

// ParseCgroupsMode checks a cgroups mode of criu's.
func ParseCgroupsMode(s string) error {
	if _, ok := cgModes[s]; !ok && s != "" {
		return fmt.Errorf("unknown mode %q (want soft, full, strict or ignore)", s)
	}
	return nil
}

// EmptyNsFlag maps a namespace restored empty to its clone flag; only
// network is supported, as with runc.
func EmptyNsFlag(ns string) (uint32, error) {
	if ns == "network" {
		return unix.CLONE_NEWNET, nil
	}
	return 0, fmt.Errorf("namespace %q is not supported (only network)", ns)
}

// RPC fills what dump and restore share. images and work are fds
// of the two directories in OUR fd table: criu opens /proc/<peer>/fd/<n> of
// the process at the other end of the socket (and so for status_fd), while
// inherit_fd numbers are criu's own.
func (o *Opts) RPC(images, work int, log string) *RPCOpts {
	r := &RPCOpts{
		ImagesDirFd:    int32(images),
		WorkDirFd:      new(int32(work)),
		LogLevel:       new(int32(4)),
		LogFile:        new(log),
		ShellJob:       new(o.ShellJob),
		TCPEstablished: new(o.TCPEstablished),
		ExtUnixSk:      new(o.ExtUnixSk),
		FileLocks:      new(o.FileLocks),
		AutoDedup:      new(o.AutoDedup),
		LazyPages:      new(o.LazyPages),
		ManageCgroups:  new(true),
		NotifyScripts:  new(true),
		EmptyNs:        new(o.EmptyNs),
	}
	if m, ok := cgModes[o.ManageCgroupsMode]; ok {
		r.ManageCgroupsMode = new(m)
	}
	// criu locks the network of a namespace it dumps or restores (even an
	// empty one) with iptables-restore by default, as runc leaves it. Where
	// there is none (minimal hosts, nft-only distributions) criu would fail:
	// use its nftables method (libnftables, criu >= 3.16) instead.
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		r.NetworkLock = new(NetworkLockNftables)
	}
	return r
}

// Dirs opens the images and work directories (creating them) for criu.
func (o *Opts) Dirs() (images, work *os.File, err error) {
	if o.ImagesDir == "" {
		return nil, nil, errors.New("images directory: must not be empty")
	}
	if err := os.MkdirAll(o.ImagesDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("images directory: %w", err)
	}
	if images, err = os.Open(o.ImagesDir); err != nil {
		return nil, nil, fmt.Errorf("images directory: %w", err)
	}
	if o.WorkDir == "" {
		o.WorkDir = o.ImagesDir
	}
	if err := os.MkdirAll(o.WorkDir, 0o700); err != nil {
		images.Close()
		return nil, nil, fmt.Errorf("work directory: %w", err)
	}
	if work, err = os.Open(o.WorkDir); err != nil {
		images.Close()
		return nil, nil, fmt.Errorf("work directory: %w", err)
	}
	return images, work, nil
}

// Swrk is one running `criu swrk`.
type Swrk struct {
	cmd  *exec.Cmd
	sock *os.File
}

// Start runs `criu swrk 3` with extra as its fds 4, 5, ... and stdio as
// its 0-2; with cgroupFD (cgroup v2) criu is born in that cgroup, so every
// task it restores starts there too.
func Start(path string, extra []*os.File, stdio [3]*os.File, cgroupFD *os.File) (*Swrk, error) {
	if path == "" {
		path = "criu"
	}
	bin, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("criu binary %s: %w", path, err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "criu-rpc")
	theirs := os.NewFile(uintptr(fds[1]), "criu-rpc-swrk")
	defer theirs.Close()
	cmd := &exec.Cmd{
		Path:        bin,
		Args:        []string{"criu", "swrk", "3"},
		Stdin:       stdio[0],
		Stdout:      stdio[1],
		Stderr:      stdio[2],
		ExtraFiles:  append([]*os.File{theirs}, extra...),
		SysProcAttr: &unix.SysProcAttr{},
	}
	if cgroupFD != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cgroupFD.Fd())
	}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("start %s swrk: %w", bin, err)
	}
	return &Swrk{cmd: cmd, sock: ours}, nil
}

// Call sends req and answers criu's notifications with notify until the
// final response. A failed notify is reported to criu, which then aborts.
func (s *Swrk) Call(req *Req, notify func(script string, pid int32) error) (*Resp, error) {
	want := req.Type
	buf := make([]byte, 64<<10)
	for {
		if _, err := s.sock.Write(req.Marshal()); err != nil {
			return nil, fmt.Errorf("criu rpc send: %w", err)
		}
		n, err := s.sock.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("criu rpc receive (criu died?): %w", err)
		}
		resp := &Resp{}
		if err := resp.Unmarshal(buf[:n]); err != nil {
			return nil, fmt.Errorf("criu rpc decode: %w", err)
		}
		if !resp.Success {
			return resp, respError(resp)
		}
		if resp.Type != ReqNotify {
			if resp.Type != want {
				return resp, fmt.Errorf("criu rpc: answer %s to a %s request", resp.Type, want)
			}
			return resp, nil
		}
		nerr := error(nil)
		if notify != nil {
			nerr = notify(resp.Notify.Script, resp.Notify.Pid)
		}
		req = &Req{Type: ReqNotify, NotifySuccess: new(nerr == nil)}
		if nerr != nil {
			// Tell criu so it rolls back, then report our reason.
			_, _ = s.sock.Write(req.Marshal())
			return nil, fmt.Errorf("criu notify %q: %w", resp.Notify.Script, nerr)
		}
	}
}

func respError(resp *Resp) error {
	msg := strings.TrimSpace(resp.CrErrmsg)
	if msg == "" {
		msg = "criu failed"
	}
	if e := resp.CrErrno; e != 0 {
		return fmt.Errorf("%s: %w", msg, unix.Errno(e))
	}
	return errors.New(msg)
}

// Pid is criu's pid.
func (s *Swrk) Pid() int { return s.cmd.Process.Pid }

// Close ends the session and waits for criu.
func (s *Swrk) Close() error {
	s.sock.Close()
	return s.cmd.Wait()
}

// LogError adds criu's own words to err: the last "Error" lines of its
// log, and where the whole log is.
func LogError(op string, err error, logPath string) error {
	var lines []string
	conntrack := false
	if f, ferr := os.Open(logPath); ferr == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		netns := false
		for sc.Scan() {
			l := sc.Text()
			netns = netns || strings.Contains(l, "Dumping netns links")
			if netns && strings.Contains(l, "-22 reported by netlink") {
				conntrack = true
			}
			if strings.Contains(l, "Error (") {
				// Drop the "(00.123456) " timestamp.
				if i := strings.Index(l, "Error ("); i > 0 {
					l = l[i:]
				}
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		f.Close()
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	if conntrack {
		// criu (3.x) logs "Dumping netns links" before dumping a network
		// namespace's conntrack table too, and does that even for an
		// --empty-ns network or external namespace. nfnetlink answers
		// EINVAL for the ctnetlink subsystem while its module is absent
		// and cannot be autoloaded (no modprobe, or modules disabled).
		lines = append(lines, "criu could not read the conntrack table of the container's network namespace (nfnetlink EINVAL: the nf_conntrack_netlink kernel module is not loaded): run `modprobe nf_conntrack_netlink` and retry")
	}
	if len(lines) > 0 {
		msg := strings.Join(lines, "; ")
		if strings.Contains(msg, err.Error()) {
			return fmt.Errorf("criu %s failed: %s (log: %s)", op, msg, logPath)
		}
		return fmt.Errorf("criu %s failed: %w: %s (log: %s)", op, err, msg, logPath)
	}
	return fmt.Errorf("criu %s failed: %w (log: %s)", op, err, logPath)
}

// DescriptorsFile records, beside the images, what the init's stdio were at
// dump time ("pipe:[123]", "/dev/null"): restore hands its own stdio to criu
// under those keys, so that pipes are reconnected instead of recreated.
const DescriptorsFile = "descriptors.json"

func StdioLinks(pid int) []string {
	links := make([]string, 3)
	for i := range links {
		links[i], _ = os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", strconv.Itoa(i)))
	}
	return links
}

// Inheritable reports whether a dumped stdio link names something criu
// cannot reopen by path, so it must be inherited on restore.
func Inheritable(link string) bool {
	return strings.HasPrefix(link, "pipe:") || strings.HasPrefix(link, "socket:") || strings.HasPrefix(link, "anon_inode:")
}
