package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/internal/plainjson"
	"github.com/ocirun/ocirun/libcontainer/configs"
)

// libseccomp needs 20–50 ms for a profile the size of podman's or Docker's
// default, more than everything else a create does, and every container of a
// host compiles the same few profiles. So compiled programs are kept by what
// decides them: the profile, this binary (size, mtime, inode: a rebuilt or
// upgraded ocirun, or another libseccomp linked in, never reads an old
// entry) and the kernel release (libseccomp probes the kernel's API level).
//
// The cache is only an optimisation: any doubt about it (a directory not ours
// or writable by others, a file not ours, a header or key that does not
// match, a program that does not decode) means compiling as if it were empty.

const (
	cacheMagic = "ocirun-seccomp-bpf-v1\n"
	// cacheMax bounds the directory: a host runs a handful of profiles; past
	// this the oldest entries go.
	cacheMax = 64
)

// Cache is a directory of compiled programs; the zero value (Dir "") caches
// nothing.
type Cache struct {
	Dir string
	// Debug, when set, hears why an entry was not used or not written.
	Debug func(msg string, args ...any)
}

// Compile returns c's program encoded as EncodeBPF does, from the cache when
// it holds it (hit), compiled and stored otherwise.
func (k Cache) Compile(c *configs.Seccomp) (bpf []byte, hit bool, err error) {
	dir, key := k.open(c)
	if dir != nil {
		defer dir.Close()
		if bpf, err := readEntry(dir, key); err == nil {
			return bpf, true, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			k.debug("seccomp cache entry not used", "key", key, "reason", err)
		}
	}
	prog, err := Compile(c)
	if err != nil {
		return nil, false, err
	}
	bpf = EncodeBPF(prog)
	if dir != nil {
		if err := writeEntry(dir, key, bpf); err != nil {
			k.debug("seccomp cache entry not written", "key", key, "reason", err)
		}
	}
	return bpf, false, nil
}

// open returns the cache directory and c's key in it; nil when there is no
// cache or it cannot be used.
func (k Cache) open(c *configs.Seccomp) (*os.File, string) {
	if k.Dir == "" {
		return nil, ""
	}
	key, err := cacheKey(c)
	var dir *os.File
	if err == nil {
		dir, err = k.openDir()
	}
	if err != nil {
		k.debug("seccomp cache not used", "dir", k.Dir, "reason", err)
		return nil, ""
	}
	return dir, key
}

func (k Cache) debug(msg string, args ...any) {
	if k.Debug != nil {
		k.Debug(msg, args...)
	}
}

// cacheKey names c's program for this binary on this kernel.
func cacheKey(c *configs.Seccomp) (string, error) {
	profile, err := plainjson.Marshal(c)
	if err != nil {
		return "", err
	}
	var exe unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &exe); err != nil {
		return "", &os.PathError{Op: "stat", Path: "/proc/self/exe", Err: err}
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", os.NewSyscallError("uname", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s%d:%d:%d:%d.%d\n%s\n%s\n", cacheMagic, exe.Dev, exe.Ino, exe.Size,
		exe.Mtim.Sec, exe.Mtim.Nsec, unix.ByteSliceToString(uts.Release[:]), LibraryVersion())
	h.Write(profile)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// openDir makes the directory (0700) when missing and opens it only if it
// is ours and nobody else can write to it: an entry is a seccomp filter, and
// a forged one would weaken every container that reads it.
func (k Cache) openDir() (*os.File, error) {
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return nil, err
	}
	fd, err := unix.Open(k.Dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: k.Dir, Err: err}
	}
	dir := os.NewFile(uintptr(fd), k.Dir)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		dir.Close()
		return nil, &os.PathError{Op: "fstat", Path: k.Dir, Err: err}
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		dir.Close()
		return nil, fmt.Errorf("%s: owned by uid %d with mode %#o, not ours alone", k.Dir, st.Uid, st.Mode&0o7777)
	}
	return dir, nil
}

func readEntry(dir *os.File, key string) ([]byte, error) {
	fd, err := unix.Openat(int(dir.Fd()), key, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: key, Err: err}
	}
	f := os.NewFile(uintptr(fd), key)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("not a regular file of ours alone (uid %d, mode %#o)", st.Uid, st.Mode)
	}
	if st.Size > int64(len(cacheMagic)+len(key)+1+8*unix.BPF_MAXINSNS) {
		return nil, fmt.Errorf("%d bytes is too large", st.Size)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	bpf, err := parseEntry(data, key)
	if err == nil {
		// Eviction goes by mtime: a used entry is a recent one.
		_ = unix.Futimes(fd, nil)
	}
	return bpf, err
}

// parseEntry checks an entry: the magic, its own key again (a file renamed
// to another key is not trusted), and a program the kernel could load.
func parseEntry(data []byte, key string) ([]byte, error) {
	head := cacheMagic + key + "\n"
	if !bytes.HasPrefix(data, []byte(head)) {
		return nil, errors.New("header does not match")
	}
	bpf := data[len(head):]
	prog, err := decodeBPF(bpf)
	if err != nil {
		return nil, err
	}
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("%d instructions", len(prog))
	}
	return bpf, nil
}

// writeEntry writes atomically (a reader sees a whole entry or none) and
// keeps the directory at cacheMax entries.
func writeEntry(dir *os.File, key string, bpf []byte) error {
	dfd := int(dir.Fd())
	tmp := ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + key[:16]
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(append([]byte(cacheMagic+key+"\n"), bpf...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.NewSyscallError("renameat", unix.Renameat(dfd, tmp, dfd, key))
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	return evict(dir)
}

func evict(dir *os.File) error {
	names, err := dir.Readdirnames(-1)
	if err != nil || len(names) <= cacheMax {
		return err
	}
	type entry struct {
		name string
		mtim int64
	}
	var es []entry
	for _, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(int(dir.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			es = append(es, entry{n, st.Mtim.Nano()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].mtim < es[j].mtim })
	for _, e := range es[:max(0, len(es)-cacheMax)] {
		_ = unix.Unlinkat(int(dir.Fd()), e.name, 0)
	}
	return nil
}
