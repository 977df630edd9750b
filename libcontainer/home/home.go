// Package home gives a container process the $HOME runc gives it: when its
// environment has none (or an empty one), the home directory of its uid in
// the container's own /etc/passwd, read inside the container's root.
package home

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Default is runc's $HOME for a uid /etc/passwd does not list (or without
// a readable /etc/passwd): `exec --user 1234` of an id no file knows.
const Default = "/"

// maxPasswd bounds what is read of /etc/passwd: the image chooses it.
const maxPasswd = 16 << 20

// Needed reports whether env lacks a non-empty HOME.
func Needed(env []string) bool {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v != "" {
			return false
		}
	}
	return true
}

// Set returns env with HOME=dir in place of an empty HOME, or added at the
// end as runc adds it. env itself is not changed.
func Set(env []string, dir string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if kv != "HOME=" {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+dir)
}

// Lookup returns the home directory of uid in /etc/passwd under root, a
// handle on the container's root directory: the path is resolved as the
// container would (symlinks and ".." stay inside root, no magic links),
// and only a regular file is read. A missing file or entry gives Default;
// so does an entry with an empty home, as runc's user package reads it.
func Lookup(root *os.File, uid uint32) (string, error) {
	f, err := openInRoot(root, "etc/passwd")
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return Default, nil
	}
	if err != nil {
		return Default, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Default, err
	}
	if !st.Mode().IsRegular() {
		return Default, fmt.Errorf("/etc/passwd: not a regular file (%s)", st.Mode().Type())
	}
	return parse(io.LimitReader(f, maxPasswd), uid)
}

// parse finds the first entry of uid: name:password:uid:gid:gecos:home:shell.
func parse(r io.Reader, uid uint32) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	want := strconv.FormatUint(uint64(uid), 10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 6 || f[2] != want {
			continue
		}
		if f[5] == "" {
			return Default, nil
		}
		return f[5], nil
	}
	if err := sc.Err(); err != nil {
		return Default, fmt.Errorf("/etc/passwd: %w", err)
	}
	return Default, nil
}

// openInRoot opens p for reading inside root with openat2: RESOLVE_IN_ROOT
// keeps every symlink and ".." in the container, O_NONBLOCK keeps a fifo
// from blocking the open (it is refused after). Kernels without openat2
// get pathrs's walk and a reopen through procfs.
func openInRoot(root *os.File, p string) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 32 {
		fd, err := unix.Openat2(int(root.Fd()), p, how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), "/"+p), nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS):
			h, err := pathrs.OpenatInRoot(root, p)
			if err != nil {
				return nil, err
			}
			defer h.Close()
			return pathrs.Reopen(h, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC)
		default:
			return nil, &os.PathError{Op: "openat2", Path: "/" + p, Err: err}
		}
	}
	return nil, &os.PathError{Op: "openat2", Path: "/" + p, Err: unix.EAGAIN}
}
