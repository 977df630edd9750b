package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"9": unix.SIGKILL, "KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "kill": unix.SIGKILL,
		"sigterm": unix.SIGTERM, "15": unix.SIGTERM, "USR1": unix.SIGUSR1, "SIGRTMIN": 0,
	} {
		got, err := parseSignal(in)
		if want == 0 {
			continue // real-time names differ by libc; not part of runc's contract
		}
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "65", "-9", "FOO", "SIG"} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) accepted", bad)
		}
	}
}

func TestParseUser(t *testing.T) {
	// crun CVE-2026-30892: "-u 1" ran as uid 0.
	uid, gid, err := parseUser("1")
	if err != nil || uid != 1 || gid != nil {
		t.Fatalf("1: %d %v %v", uid, gid, err)
	}
	uid, gid, err = parseUser("1:2")
	if err != nil || uid != 1 || gid == nil || *gid != 2 {
		t.Fatalf("1:2: %d %v %v", uid, gid, err)
	}
	for _, bad := range []string{"", ":", "a", "1:", ":2", "1:b", "-1", "4294967296", "1:2:3"} {
		if _, _, err := parseUser(bad); err == nil {
			t.Errorf("parseUser(%q) accepted", bad)
		}
	}
}

// A process.json without noNewPrivileges inherits the container's; an
// explicit value, false included, wins.
