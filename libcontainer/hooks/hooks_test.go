package hooks

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

const sh = "/bin/busybox"

func shHook(script string, env ...string) configs.Hook {
	return configs.Hook{Path: sh, Args: []string{"sh", "-c", script}, Env: env}
}

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sh); err != nil {
		t.Skipf("hooks are busybox sh scripts: %v", err)
	}
}

func TestRunStdinArgvEnv(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	// /proc/$$ shows the hook's own argv and initial environment, as execve
	// received them, not what the shell makes of them. The final exit keeps
	// sh from exec'ing its last command in place of itself.
	script := `cat > "$OUT/stdin"; cat /proc/$$/cmdline > "$OUT/argv"; cat /proc/$$/environ > "$OUT/env"; exit 0`
	h := shHook(script, "OUT="+dir, "FOO=bar baz")
	state := []byte(`{"ociVersion":"1.3.0","id":"c1","status":"creating","pid":42,"bundle":"/b"}`)

	t.Setenv("OCIRUN_HOOK_LEAK", "1") // must not reach the hook
	if err := runFirst("createRuntime", "", []configs.Hook{h}, state); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("stdin"); got != string(state) {
		t.Errorf("stdin: got %q, want %q", got, state)
	}
	if got, want := read("argv"), strings.Join(h.Args, "\x00")+"\x00"; got != want {
		t.Errorf("argv: got %q, want %q", got, want)
	}
	if got, want := read("env"), strings.Join(h.Env, "\x00")+"\x00"; got != want {
		t.Errorf("env: got %q, want exactly %q", got, want)
	}
}

func TestRunOrderAndFirstFailure(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	env := "OUT=" + dir
	hooks := []configs.Hook{
		shHook(`echo one >> "$OUT/log"`, env),
		shHook(`echo two >> "$OUT/log"; echo "  boom  " >&2; exit 3`, env),
		shHook(`echo three >> "$OUT/log"`, env),
	}
	err := runFirst("poststop", "", hooks, nil)
	want := `error running poststop hook #1: hooks.poststop[1] "/bin/busybox": exit status 3: stderr: boom`
	if err == nil || err.Error() != want {
		t.Errorf("error: got %v, want %q", err, want)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	if string(log) != "one\ntwo\n" {
		t.Errorf("hooks ran: got %q, want one then two, and not three", log)
	}
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	one := 1
	// The hook leaves a child behind: the timeout must kill it too.
	h := shHook(`sleep 60 & echo $! > "$OUT/child"; wait`, "OUT="+dir)
	h.Timeout = &one

	start := time.Now()
	err := runFirst("prestart", "", []configs.Hook{h}, []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), `error running prestart hook #0: hooks.prestart[0] "/bin/busybox": timed out after 1s`) {
		t.Fatalf("error: got %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after a 1s timeout", d)
	}
	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("hook's child %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs; a zombie waiting for its new parent to reap
// it counts as dead.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestRunIgnoredStdin(t *testing.T) {
	needBusybox(t)
	// Far more than a pipe holds, so the write hits a closed pipe.
	state := bytes.Repeat([]byte("x"), 4<<20)
	for i := 0; i < 5; i++ {
		if err := runFirst("poststart", "", []configs.Hook{shHook("exit 0")}, state); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

func TestRunErrors(t *testing.T) {
	needBusybox(t)
	zero := 0
	tests := []struct {
		name string
		hook configs.Hook
		want string
	}{
		{
			name: "bounded stderr",
			hook: shHook(`head -c 10000 /dev/zero | tr '\0' e >&2; exit 1`),
			want: `error running startContainer hook #0: hooks.startContainer[0] "/bin/busybox": exit status 1: stderr: ` + strings.Repeat("e", maxOutput) + " [5904 more bytes]",
		},
		{
			name: "stdout when no stderr",
			hook: shHook(`echo oops; exit 1`),
			want: `error running startContainer hook #0: hooks.startContainer[0] "/bin/busybox": exit status 1: stdout: oops`,
		},
		{
			name: "missing program",
			hook: configs.Hook{Path: "/nonexistent/hook"},
			want: `error running startContainer hook #0: hooks.startContainer[0] "/nonexistent/hook": fork/exec /nonexistent/hook: no such file or directory`,
		},
		{
			name: "zero timeout",
			hook: configs.Hook{Path: sh, Timeout: &zero},
			want: `error running startContainer hook #0: hooks.startContainer[0] "/bin/busybox": timeout 0: must be a positive number of seconds`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runFirst("startContainer", "", []configs.Hook{tc.hook}, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestPhaseRule: the phases before the user's program fail at the first
// failing hook; poststart and poststop run every hook and only warn.
func TestPhaseRule(t *testing.T) {
	needBusybox(t)
	for p := Prestart; p <= Poststop; p++ {
		dir := t.TempDir()
		env := "OUT=" + dir
		list := []configs.Hook{
			shHook(`echo one >> "$OUT/log"; exit 1`, env),
			shHook(`echo two >> "$OUT/log"`, env),
		}
		var h configs.Hooks
		for _, set := range []struct {
			p Phase
			l *[]configs.Hook
		}{{Prestart, &h.Prestart}, {CreateRuntime, &h.CreateRuntime}, {CreateContainer, &h.CreateContainer}, {StartContainer, &h.StartContainer}, {Poststart, &h.Poststart}, {Poststop, &h.Poststop}} {
			if set.p == p {
				*set.l = list
			}
		}
		var warned []error
		err := p.Run(&h, nil, func(err error) { warned = append(warned, err) })
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		fatal := p != Poststart && p != Poststop
		if p.Fatal() != fatal {
			t.Errorf("%s: Fatal() = %v", p, p.Fatal())
		}
		want := `error running ` + p.String() + ` hook #0: hooks.` + p.String() + `[0] "/bin/busybox": exit status 1`
		switch {
		case fatal && (err == nil || err.Error() != want || len(warned) != 0 || string(log) != "one\n"):
			t.Errorf("%s: err %v, warned %v, ran %q: want the first failure returned and the rest skipped", p, err, warned, log)
		case !fatal && (err != nil || len(warned) != 1 || warned[0].Error() != want || string(log) != "one\ntwo\n"):
			t.Errorf("%s: err %v, warned %v, ran %q: want a warning and every hook run", p, err, warned, log)
		}
	}
}
