package integration

import (
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ocirun/ocirun/tests/internal/bundle"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompNotif: the kernel's struct seccomp_notif and seccomp_notif_resp (x/sys
// has the ioctl numbers but not the structs).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// TestSeccompNotify: a NOTIFY rule sends the container's listener fd, with
// the container process state, to listenerPath; the agent there answers the
// container's mkdir with EXDEV, which the container sees.
func TestSeccompNotify(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct {
		state specs.ContainerProcessState
		calls int
		err   error
	}
	done := make(chan got, 1)
	go func() {
		var g got
		defer func() { done <- g }()
		conn, err := l.AcceptUnix()
		if err != nil {
			g.err = err
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			g.err = err
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			g.err = err
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			g.err = err
			return
		}
		defer unix.Close(fds[0])
		if g.err = json.Unmarshal(buf[:n], &g.state); g.err != nil {
			return
		}
		for {
			// Older kernels (6.1) block in NOTIF_RECV after the last task of
			// the filter is gone; POLLHUP says so everywhere.
			// The Go runtime's preemption signal interrupts poll (EINTR): that
			// is no reason to close the listener, which would make the
			// container's pending mkdir fail with ENOSYS.
			pfd := []unix.PollFd{{Fd: int32(fds[0]), Events: unix.POLLIN}}
			_, err := unix.Poll(pfd, 10000)
			for errors.Is(err, unix.EINTR) {
				_, err = unix.Poll(pfd, 10000)
			}
			if err != nil || pfd[0].Revents&unix.POLLIN == 0 {
				return
			}
			var req seccompNotif
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fds[0]), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e == unix.EINTR {
				continue
			} else if e != 0 {
				return // the container is gone
			}
			g.calls++
			resp := seccompNotifResp{ID: req.ID, Error: -int32(unix.EXDEV)}
			unix.Syscall(unix.SYS_IOCTL, uintptr(fds[0]), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
		}
	}()

	b := bundle.New(t, bundle.WithArgs("/bin/sh", "-c", "mkdir /tmp/d 2>&1; echo status=$?"))
	b.Edit(t, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     sock,
			ListenerMetadata: "agent-metadata",
			Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	})
	r := b.MustRun(t, "run", "--bundle", b.Dir, b.ID)
	if !strings.Contains(strings.ToLower(r.Stdout), "cross-device") || !strings.Contains(r.Stdout, "status=1") {
		t.Errorf("mkdir was not answered with EXDEV by the agent: %q", r.Stdout)
	}
	var g got
	select {
	case g = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the seccomp agent did not finish")
	}
	if g.err != nil {
		t.Fatalf("agent: %v", g.err)
	}
	if g.calls == 0 {
		t.Error("the agent saw no notification")
	}
	st := g.state
	if len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName || st.Metadata != "agent-metadata" || st.State.ID != b.ID || st.Pid <= 0 {
		t.Errorf("container process state sent to the agent: %+v", st)
	}
}
