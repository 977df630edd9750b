// Package cgfile reads and writes cgroupfs control files and walks cgroup
// directories; it is shared by the v1 (fs1) and v2 (fs2) managers.
package cgfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/internal/sys"
)

// WriteFile writes value to dir/name. The file must already exist: cgroupfs
// creates control files itself, so a missing file means the controller (or
// this knob) is not there, which callers turn into a field-named error.
func WriteFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	// cgroupfs parses one value per write(2); a short write cannot happen,
	// and the kernel's error (EINVAL, EBUSY, ...) comes back from write.
	err := sys.WriteOnce(p, unix.O_WRONLY|unix.O_TRUNC|unix.O_NOFOLLOW, value)
	var pe *os.PathError
	if err != nil && !errors.As(err, &pe) {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return err
}

// ReadFile returns the content of dir/name without the trailing newline.
func ReadFile(dir, name string) (string, error) {
	b, err := sys.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// Exists reports whether dir/name exists.
func Exists(dir, name string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// ParseUintOrMax parses a cgroup limit value; "max" (v2) and values above
// MaxInt64 (v1's PAGE_COUNTER_MAX rounded) report -1.
func ParseUintOrMax(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return -1, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse cgroup value %q: %w", s, err)
	}
	if v >= 1<<62 {
		return -1, nil
	}
	return int64(v), nil
}

// Procs returns the pids listed in dir/cgroup.procs and, recursively, in every
// child cgroup (a container may create sub-cgroups through its namespace).
func Procs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// A child cgroup removed while walking is not an error.
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := sys.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		s := bufio.NewScanner(bytes.NewReader(b))
		for s.Scan() {
			pid, err := strconv.Atoi(strings.TrimSpace(s.Text()))
			if err != nil {
				return fmt.Errorf("parse %s/cgroup.procs line %q: %w", p, s.Text(), err)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	return pids, err
}

// RemoveTree removes the cgroup dir and its child cgroups, deepest first.
// rmdir on a cgroup whose last task just exited can fail with EBUSY for a
// short while (the css is still being released), so it is retried briefly.
// A missing dir is not an error.
func RemoveTree(dir string) error {
	// The usual case, a leaf without tasks, takes one rmdir. Listing the
	// dir first (dozens of control files) made deleting a container's
	// cgroups a third slower (BenchmarkLifecycle, v1 host).
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := RemoveTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 5 * time.Millisecond
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && i < 8:
			time.Sleep(delay)
			delay *= 2
		default:
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
	}
}

// WaitFor polls check until it reports done, for at most timeout.
func WaitFor(timeout time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// Writer writes the files of one controller in one cgroup dir, turning every
// failure into an error that names the spec field being applied. Dir is empty
// when the controller is not mounted or not enabled for the cgroup.
type Writer struct {
	Dir        string
	Controller string
}

// Write writes value to Dir/file on behalf of the spec field.
func (w Writer) Write(field, file, value string) error {
	if w.Dir == "" {
		return fmt.Errorf("%s: %s controller not available", field, w.Controller)
	}
	if err := WriteFile(w.Dir, file, value); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// Need returns the "not available" error for field when Dir is empty.
func (w Writer) Need(field string) error {
	if w.Dir == "" {
		return fmt.Errorf("%s: %s controller not available", field, w.Controller)
	}
	return nil
}

// Itoa formats a limit, -1 (or below) as v1's "-1" or v2's "max".
func Itoa(v int64, max string) string {
	if v < 0 {
		return max
	}
	return strconv.FormatInt(v, 10)
}

// ValidName rejects file name parts that could leave the cgroup dir.
func ValidName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}
