// Command probe runs inside test containers and reports what its process sees
// (as one JSON object) or performs one small action the integration tests need.
//
// It must stay static (CGO_ENABLED=0): the test rootfs holds no libc.
//
//	probe report [--stat PATH]... [--cat PATH]...   print a Report as JSON
//	probe exit N                                    exit with status N
//	probe sleep SECONDS                             sleep, then exit 0
//	probe kill-self SIG                             send SIG (name or number) to itself
//	probe write PATH CONTENT                        write a file; on failure print the errno name, exit 1
//	probe wait-signal [--out PATH]                  print the first signal received, then exit 0
//	probe attack-exe DIR SECONDS                    CVE-2019-5736 payload, result in DIR/result.json
//	probe procattrs                                 print scheduling, ioprio, personality, affinity, NUMA policy as JSON
//	probe getcwd                                    print the raw getcwd(2) answer
//	probe alloc MB                                  touch MB MiB of anonymous memory, print "allocated MB"
//	probe fork N                                    start N `sleep 60`; print "forked K errno NAME" at the first failure
//	probe syscall NR                                call syscall NR without arguments; print "errno NAME" or "ok"
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: probe report|exit|sleep|kill-self|write|wait-signal|attack-exe|getcwd ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "report":
		cmdReport(args)
	case "exit":
		n := atoiArg(args, "exit N")
		os.Exit(n)
	case "sleep":
		n := atoiArg(args, "sleep SECONDS")
		time.Sleep(time.Duration(n) * time.Second)
	case "kill-self":
		cmdKillSelf(args)
	case "write":
		cmdWrite(args)
	case "wait-signal":
		cmdWaitSignal(args)
	case "attack-exe":
		cmdAttackExe(args)
	case "getcwd":
		cmdGetcwd()
	case "notify":
		cmdNotify(args)
	case "alloc":
		cmdAlloc(args)
	case "fork":
		cmdFork(args)
	case "procattrs":
		cmdProcAttrs()
	case "syscall":
		cmdSyscall(args)
	default:
		fatalf("unknown subcommand %q", os.Args[1])
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "probe: "+format+"\n", a...)
	os.Exit(125)
}

func atoiArg(args []string, usage string) int {
	if len(args) != 1 {
		fatalf("usage: probe %s", usage)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fatalf("usage: probe %s: %v", usage, err)
	}
	return n
}

func cmdReport(args []string) {
	var stats, cats []string
	for i := 0; i < len(args); i++ {
		if i+1 >= len(args) {
			fatalf("report: %s needs a PATH", args[i])
		}
		switch args[i] {
		case "--stat":
			stats = append(stats, args[i+1])
		case "--cat":
			cats = append(cats, args[i+1])
		default:
			fatalf("report: unknown flag %q", args[i])
		}
		i++
	}
	r := collect(stats, cats)
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(r); err != nil {
		fatalf("report: %v", err)
	}
}

func cmdKillSelf(args []string) {
	if len(args) != 1 {
		fatalf("usage: probe kill-self SIG")
	}
	sig := parseSignal(args[0])
	// Reset to default first: a signal ignored by the parent stays ignored across execve.
	signal.Reset(sig)
	if err := unix.Kill(os.Getpid(), sig); err != nil {
		fatalf("kill-self: %v", err)
	}
	// As PID 1 of a PID namespace the kernel drops signals without a handler
	// (even SIGKILL sent from inside), so wait briefly and report that.
	time.Sleep(2 * time.Second)
	fatalf("kill-self: still alive after signal %d", sig)
}

func parseSignal(s string) unix.Signal {
	if n, err := strconv.Atoi(s); err == nil {
		return unix.Signal(n)
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		fatalf("unknown signal %q", s)
	}
	return sig
}

func cmdWrite(args []string) {
	if len(args) != 2 {
		fatalf("usage: probe write PATH CONTENT")
	}
	err := os.WriteFile(args[0], []byte(args[1]), 0o644)
	if err != nil {
		fmt.Println(errnoName(err))
		os.Exit(1)
	}
	fmt.Println("ok")
}

func cmdWaitSignal(args []string) {
	out := ""
	if len(args) == 2 && args[0] == "--out" {
		out = args[1]
	} else if len(args) != 0 {
		fatalf("usage: probe wait-signal [--out PATH]")
	}
	ch := make(chan os.Signal, 1)
	// Every catchable signal: the test decides which one it sends.
	var sigs []os.Signal
	// 32-34 belong to the C library; 35-64 are the real-time signals.
	for s := unix.Signal(1); s <= 64; s++ {
		if s != unix.SIGKILL && s != unix.SIGSTOP && s != unix.SIGCHLD && s != unix.SIGURG && (s < 32 || s > 34) {
			sigs = append(sigs, s)
		}
	}
	signal.Notify(ch, sigs...)
	fmt.Println("ready")
	got := (<-ch).(unix.Signal)
	line := unix.SignalName(got)
	if line == "" {
		line = fmt.Sprintf("SIG%d", int(got))
	}
	fmt.Println(line)
	if out != "" {
		if err := os.WriteFile(out, []byte(line+"\n"), 0o644); err != nil {
			fatalf("wait-signal: %v", err)
		}
	}
}

// cmdSyscall calls a raw syscall number: seccomp tests see what a filter
// answers for numbers no libc wrapper knows.
func cmdSyscall(args []string) {
	nr := atoiArg(args, "syscall NR")
	if _, _, errno := unix.RawSyscall(uintptr(nr), 0, 0, 0); errno != 0 {
		fmt.Println("errno", errnoName(errno))
		return
	}
	fmt.Println("ok")
}

// errnoName turns an error into "EROFS"-style text so tests can match the kernel's answer.
func errnoName(err error) string {
	var errno unix.Errno
	for e := err; e != nil; {
		if en, ok := e.(unix.Errno); ok {
			errno = en
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	if errno == 0 {
		return err.Error()
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", int(errno))
}
