package main

import (
	"os"
	"testing"
)

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{`/plain`, "/plain"},
		{`/with\040space`, "/with space"},
		{`/tab\011x`, "/tab\tx"},
		{`/back\134slash`, `/back\slash`},
		{`/trailing\04`, `/trailing\04`},
	}
	for _, tc := range tests {
		if got := unescape(tc.in); got != tc.want {
			t.Errorf("unescape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCollectSelf(t *testing.T) {
	r := collect([]string{"/", "/nonexistent-probe-path"}, []string{"/proc/self/comm"})
	if r.Pid != os.Getpid() {
		t.Errorf("pid %d, want %d", r.Pid, os.Getpid())
	}
	if r.Mount("/") == nil {
		t.Errorf("no / in mountinfo")
	}
	if st := r.Stat["/"]; !st.Exists || st.Type != "dir" {
		t.Errorf("stat /: %+v", st)
	}
	if st := r.Stat["/nonexistent-probe-path"]; st.Exists || st.Error != "ENOENT" {
		t.Errorf("stat of a missing path: %+v", st)
	}
	if r.Caps["CapBnd"] == "" || r.Namespaces["mnt"] == "" || r.Umask == "" {
		t.Errorf("caps %v namespaces %v umask %q", r.Caps, r.Namespaces, r.Umask)
	}
	if _, ok := r.Rlimits["RLIMIT_NOFILE"]; !ok {
		t.Errorf("no RLIMIT_NOFILE")
	}
}
