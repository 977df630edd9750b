package libcontainer

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
	"github.com/ocirun/ocirun/libcontainer/rootfs"
	"github.com/ocirun/ocirun/libcontainer/trace"
)

// The parent and `ocirun init` talk over one AF_UNIX SOCK_STREAM socketpair in
// frames: a little-endian uint32 length, then the payload. Fds travel with
// SCM_RIGHTS on the frame's first bytes. A stream (rather than SOCK_SEQPACKET)
// keeps a large config (podman's seccomp profile, many annotations) from hitting
// the socket buffer's per-message limit; the framing restores message boundaries.
// Every message but the first is a JSON object; the order is strict:
//
//	parent                                   init (C stage, then Go)
//	  ── bootstrap (binary) ───────────────▶   C: setns / unshare
//	  ◀──────────────────────── idmap-please ─   only with a new user namespace
//	  ── idmap-done ───────────────────────▶     (the parent wrote uid/gid maps)
//	  ◀─────────────────────────────── child ─   pid of the forked init (0: no fork);
//	                                             the parent writes its oom_score_adj
//	                                             through the host's /proc
//	  ── config ───────────────────────────▶   Go: mounts, devices (with the host's
//	                                             LSM answer: SELinux, AppArmor)
//	  ◀──────────────────────── hooks-please ─   rootfs ready, before pivot_root
//	  ── hooks-done ───────────────────────▶     (prestart, createRuntime, createContainer ran)
//	  ◀───────────────────── console + fd ───   terminal: true only
//	  ◀────────────────── seccomp-fd + fd ───   a NOTIFY profile: the parent sends the
//	                                             fd to linux.seccomp.listenerPath
//	  ◀─────────────────────────────── ready ─   init now blocks on exec.fifo
//	  ◀─────────────────────────────── error ─   any time: the parent reports it and cleans up
//
// exec uses the same sequence without hooks-please; its ready comes right
// before the execve.
const (
	msgIdmapPlease = "idmap-please"
	msgIdmapDone   = "idmap-done"
	msgChild       = "child"
	msgConfig      = "config"
	msgHooksPlease = "hooks-please"
	msgHooksDone   = "hooks-done"
	msgConsole     = "console"
	msgSeccompFd   = "seccomp-fd"
	msgReady       = "ready"
	msgError       = "error"
)

// maxFrame bounds what either side accepts, so a confused peer cannot make the
// other allocate without limit.
const maxFrame = 16 << 20

type message struct {
	Type         string          `json:"type"`
	Pid          int             `json:"pid,omitempty"`
	Msg          string          `json:"msg,omitempty"`
	Config       *configs.Config `json:"config,omitempty"`
	ID           string          `json:"id,omitempty"`
	Bundle       string          `json:"bundle,omitempty"`
	NoNewKeyring bool            `json:"noNewKeyring,omitempty"`
	// Trace asks init to time its phases; they come back with "ready".
	Trace bool         `json:"trace,omitempty"`
	Spans []trace.Span `json:"spans,omitempty"`
	// Exec is set on the config message of an exec: join, don't build.
	Exec bool `json:"exec,omitempty"`
	// SeccompBPF is the process's filter, compiled by the parent.
	SeccompBPF []byte `json:"seccompBPF,omitempty"`
	// Cgroup tells init how to mount /sys/fs/cgroup.
	Cgroup *rootfs.CgroupMount `json:"cgroup,omitempty"`
	// LSM is the host's answer to "which LSMs are enabled", which init
	// cannot find out from inside the container.
	LSM hostLSM `json:"lsm"`
	// Step, Arg, Errno and Detail are a failed step of the C process stage,
	// which the parent words (stepError).
	Step   string `json:"step,omitempty"`
	Arg    int    `json:"arg,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func writeFrame(fd int, payload []byte, fds ...int) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(payload), maxFrame)
	}
	buf := make([]byte, 4+len(payload))
	binary.LittleEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[4:], payload)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for len(buf) > 0 {
		n, err := unix.SendmsgN(fd, buf, oob, nil, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		buf, oob = buf[n:], nil
	}
	return nil
}

// readFull reads exactly len(buf) bytes and collects any fds that arrive.
func readFull(fd int, buf []byte, fds *[]int) error {
	oob := make([]byte, unix.CmsgSpace(4*8))
	for len(buf) > 0 {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("recvmsg", err)
		}
		if oobn > 0 {
			got, err := parseRights(oob[:oobn])
			if err != nil {
				return err
			}
			*fds = append(*fds, got...)
		}
		if n == 0 {
			return errors.New("peer closed the socket")
		}
		buf = buf[n:]
	}
	return nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, os.NewSyscallError("parse control message", err)
	}
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, os.NewSyscallError("parse rights", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func readFrame(fd int) ([]byte, []int, error) {
	var fds []int
	var hdr [4]byte
	if err := readFull(fd, hdr[:], &fds); err != nil {
		return nil, fds, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fds, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
	}
	buf := make([]byte, n)
	if err := readFull(fd, buf, &fds); err != nil {
		return nil, fds, err
	}
	return buf, fds, nil
}

func sendMsg(fd int, m *message, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFrame(fd, b, fds...)
}

// recvMsg reads one JSON message; fds that came with it are returned as files.
func recvMsg(fd int) (*message, []*os.File, error) {
	b, fds, err := readFrame(fd)
	files := make([]*os.File, 0, len(fds))
	for _, f := range fds {
		files = append(files, os.NewFile(uintptr(f), "received-fd"))
	}
	if err != nil {
		closeFiles(files)
		return nil, nil, err
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		closeFiles(files)
		return nil, nil, fmt.Errorf("decode message %.100q: %w", b, err)
	}
	return &m, files, nil
}

// expect reads one message and requires the given type; an error message from
// the peer becomes the returned error.
func expect(fd int, typ string) (*message, []*os.File, error) {
	m, files, err := recvMsg(fd)
	if err != nil {
		return nil, nil, err
	}
	if m.Type == msgError {
		closeFiles(files)
		return nil, nil, errors.New(m.Msg)
	}
	if m.Type != typ {
		closeFiles(files)
		return nil, nil, fmt.Errorf("protocol: expected %q, got %q", typ, m.Type)
	}
	return m, files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
