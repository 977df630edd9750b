package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/ocirun/ocirun/tests/internal/bundle/report"
	"golang.org/x/sys/unix"
)

var rlimitNames = map[string]int{
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
}

func collect(stats, cats []string) *report.Report {
	r := &report.Report{
		Pid:        os.Getpid(),
		Ppid:       os.Getppid(),
		UID:        os.Getuid(),
		GID:        os.Getgid(),
		EUID:       os.Geteuid(),
		EGID:       os.Getegid(),
		Env:        os.Environ(),
		Rlimits:    map[string]report.Rlimit{},
		Caps:       map[string]string{},
		Namespaces: map[string]string{},
		FDs:        map[int]string{},
		Errors:     map[string]string{},
	}
	fail := func(item string, err error) {
		if err != nil {
			r.Errors[item] = err.Error()
		}
	}
	// Read fds before anything else opens files of its own.
	r.FDs = openFDs(fail)

	var uts unix.Utsname
	fail("uname", unix.Uname(&uts))
	r.Hostname = unix.ByteSliceToString(uts.Nodename[:])
	r.Domainname = unix.ByteSliceToString(uts.Domainname[:])

	groups, err := os.Getgroups()
	fail("groups", err)
	sort.Ints(groups)
	r.Groups = groups

	r.Cwd, err = os.Getwd()
	fail("cwd", err)

	for name, res := range rlimitNames {
		var rl unix.Rlimit
		if err := unix.Getrlimit(res, &rl); err != nil {
			fail(name, err)
			continue
		}
		r.Rlimits[name] = report.Rlimit{Soft: rl.Cur, Hard: rl.Max}
	}
	if rl, err := inheritedNofile(); err == nil {
		r.Rlimits["RLIMIT_NOFILE"] = rl
	} else {
		fail("RLIMIT_NOFILE", err)
	}

	status, err := readStatus()
	fail("status", err)
	r.Umask = status["Umask"]
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		r.Caps[k] = status[k]
	}
	r.NoNewPrivs = status["NoNewPrivs"]
	r.Seccomp = status["Seccomp"]

	entries, err := os.ReadDir("/proc/self/ns")
	fail("ns", err)
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/ns/" + e.Name())
		fail("ns/"+e.Name(), err)
		r.Namespaces[e.Name()] = link
	}
	r.UIDMap = readString("/proc/self/uid_map", fail)
	r.GIDMap = readString("/proc/self/gid_map", fail)
	r.Setgroups = strings.TrimSpace(readString("/proc/self/setgroups", fail))
	r.Cgroup = readString("/proc/self/cgroup", fail)
	r.OOMScoreAdj = strings.TrimSpace(readString("/proc/self/oom_score_adj", fail))
	r.SessionKeyring = sessionKeyring(fail)

	r.Mounts, err = readMountinfo()
	fail("mountinfo", err)

	var ts unix.Timespec
	fail("monotonic", unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	r.Monotonic = ts.Nano()
	fail("boottime", unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts))
	r.Boottime = ts.Nano()

	r.Stdin = stdinTTY()

	if len(stats) > 0 {
		r.Stat = map[string]report.Stat{}
		for _, p := range stats {
			r.Stat[p] = statPath(p)
		}
	}
	if len(cats) > 0 {
		r.Cat = map[string]string{}
		for _, p := range cats {
			r.Cat[p] = readString(p, fail)
		}
	}
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	return r
}

func readString(path string, fail func(string, error)) string {
	b, err := os.ReadFile(path)
	fail(path, err)
	return string(b)
}

func readStatus() (map[string]string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

func openFDs(fail func(string, error)) map[int]string {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		fail("fd", err)
		return nil
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	fail("fd", err)
	fds := map[int]string{}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == int(d.Fd()) {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + n)
		if err != nil {
			// The Go runtime may close an internal fd between readdir and readlink.
			continue
		}
		fds[fd] = link
	}
	return fds
}

// readMountinfo parses proc(5) mountinfo lines:
// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func readMountinfo() ([]report.Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []report.Mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a := strings.Fields(pre)
		b := strings.Fields(post)
		if len(a) < 6 || len(b) < 2 {
			continue
		}
		var m report.Mount
		m.ID, _ = strconv.Atoi(a[0])
		m.Parent, _ = strconv.Atoi(a[1])
		maj, min, _ := strings.Cut(a[2], ":")
		m.Major, _ = strconv.Atoi(maj)
		m.Minor, _ = strconv.Atoi(min)
		m.Root = unescape(a[3])
		m.Mountpoint = unescape(a[4])
		m.Options = a[5]
		m.Optional = strings.Join(a[6:], " ")
		m.FSType = b[0]
		m.Source = unescape(b[1])
		if len(b) > 2 {
			m.SuperOpts = b[2]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// unescape undoes the kernel's octal escaping of space, tab, newline and backslash.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func stdinTTY() report.TTY {
	var t report.TTY
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		return t
	}
	t.IsTTY = true
	t.Name, _ = os.Readlink("/proc/self/fd/0")
	if ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ); err == nil {
		t.Rows, t.Cols = int(ws.Row), int(ws.Col)
	}
	var st unix.Stat_t
	if err := unix.Fstat(0, &st); err == nil {
		t.UID, t.GID = st.Uid, st.Gid
	}
	return t
}

func statPath(p string) report.Stat {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return report.Stat{Error: errnoName(err)}
	}
	s := report.Stat{
		Exists: true,
		Mode:   st.Mode & 0o7777,
		UID:    st.Uid,
		GID:    st.Gid,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		s.Type = "file"
	case unix.S_IFDIR:
		s.Type = "dir"
	case unix.S_IFLNK:
		s.Type = "symlink"
		s.Link, _ = os.Readlink(p)
	case unix.S_IFCHR:
		s.Type = "char"
	case unix.S_IFBLK:
		s.Type = "block"
	case unix.S_IFIFO:
		s.Type = "fifo"
	case unix.S_IFSOCK:
		s.Type = "socket"
	}
	if s.Type == "char" || s.Type == "block" {
		s.Major, s.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	}
	return s
}

// inheritedNofile returns the RLIMIT_NOFILE the probe was started with. Go's
// syscall package raises its own soft limit at init (go.dev/issue/46279) and puts
// the original back only in children it starts, so a busybox child reports it.
func inheritedNofile() (report.Rlimit, error) {
	out, err := exec.Command("/bin/busybox", "sh", "-c", "ulimit -S -n; ulimit -H -n").Output()
	if err != nil {
		return report.Rlimit{}, fmt.Errorf("busybox ulimit: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return report.Rlimit{}, fmt.Errorf("busybox ulimit: unexpected output %q", out)
	}
	var vals [2]uint64
	for i, v := range f {
		if v == "unlimited" {
			vals[i] = ^uint64(0)
			continue
		}
		if vals[i], err = strconv.ParseUint(v, 10, 64); err != nil {
			return report.Rlimit{}, fmt.Errorf("busybox ulimit: %w", err)
		}
	}
	return report.Rlimit{Soft: vals[0], Hard: vals[1]}, nil
}

// sessionKeyring reads the session keyring without creating one: a process
// without any gets its user's session keyring ("_uid_ses.N") from the kernel.
func sessionKeyring(fail func(string, error)) report.Keyring {
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		fail("sessionKeyring", err)
		return report.Keyring{}
	}
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	fail("sessionKeyring", err)
	// type;uid;gid;perm;description
	if i := strings.LastIndexByte(desc, ';'); i >= 0 {
		desc = desc[i+1:]
	}
	return report.Keyring{ID: id, Description: desc}
}
