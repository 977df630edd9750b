package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MaxFrame bounds what either side accepts, so a confused peer cannot make
// the other allocate without limit.
const MaxFrame = 16 << 20

// maxFds bounds the fds one frame may carry (the most is a Go init's config
// with its idmapped mounts, libcontainer's maxIDMapped); more is a protocol
// error, and they are closed.
const maxFds = 64

// ErrClosed is a peer that closed its end: init died or exited.
var ErrClosed = errors.New("peer closed the socket")

// WriteFrame sends payload behind its little-endian u32 length, with fds on
// the frame's first bytes (SCM_RIGHTS).
func WriteFrame(fd int, payload []byte, fds ...int) error {
	if len(payload) > MaxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(payload), MaxFrame)
	}
	buf := make([]byte, 4+len(payload))
	binary.LittleEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[4:], payload)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for len(buf) > 0 {
		n, err := unix.SendmsgN(fd, buf, oob, nil, unix.MSG_NOSIGNAL)
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

// ReadFrame reads one frame and the fds that came with it (close-on-exec).
// On an error the fds already received are closed.
func ReadFrame(fd int) (payload []byte, files []*os.File, err error) {
	var fds []int
	defer func() {
		for _, f := range fds {
			files = append(files, os.NewFile(uintptr(f), "received-fd"))
		}
		if err != nil {
			closeAll(files)
			files = nil
		}
	}()
	var hdr [4]byte
	if err := readFull(fd, hdr[:], &fds); err != nil {
		return nil, nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, nil, fmt.Errorf("frame of %d bytes exceeds %d", n, MaxFrame)
	}
	buf := make([]byte, n)
	if err := readFull(fd, buf, &fds); err != nil {
		return nil, nil, err
	}
	if len(fds) > maxFds {
		return nil, nil, fmt.Errorf("frame with %d fds, at most %d", len(fds), maxFds)
	}
	return buf, nil, nil
}

// readFull reads exactly len(buf) bytes and collects any fds that arrive.
func readFull(fd int, buf []byte, fds *[]int) error {
	oob := make([]byte, unix.CmsgSpace(4*maxFds))
	for len(buf) > 0 {
		n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECONNRESET) {
			return ErrClosed // it died with our last message unread
		}
		if err != nil {
			return os.NewSyscallError("recvmsg", err)
		}
		if oobn > 0 {
			got, err := parseRights(oob[:oobn])
			*fds = append(*fds, got...)
			if err != nil {
				return err
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return errors.New("frame with more fds than the protocol allows")
		}
		if n == 0 {
			return ErrClosed
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
			return fds, os.NewSyscallError("parse rights", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
