// Package cgtest holds helpers for the cgroup packages' tests: child
// processes re-executed from the test binary and unique cgroup names.
package cgtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const envChild = "OCIRUN_CGTEST_CHILD"

// Main runs the child behaviours when the test binary was re-executed as a
// child, and the tests otherwise. Call it from TestMain.
func Main(m *testing.M) {
	switch os.Getenv(envChild) {
	case "":
		os.Exit(m.Run())
	case "sleep":
		time.Sleep(time.Hour)
		os.Exit(0)
	case "open":
		// Wait for the parent to have put us in the cgroup, then report
		// what open(2) says.
		_, _ = bufio.NewReader(os.Stdin).ReadByte()
		f, err := os.OpenFile(os.Args[len(os.Args)-1], os.O_RDWR, 0)
		if err != nil {
			fmt.Print(err)
			os.Exit(3)
		}
		f.Close()
		fmt.Print("ok")
		os.Exit(0)
	case "hog":
		// Once in the cgroup, touch memory until the OOM killer ends us.
		_, _ = bufio.NewReader(os.Stdin).ReadByte()
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hogged = append(hogged, b)
		}
	}
	os.Exit(2)
}

// hogged keeps the hog's memory reachable, so the GC cannot free it.
var hogged [][]byte

// RequireRoot skips t unless running as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
}

// Name returns a cgroup name unique to this process and test.
func Name(t testing.TB) string {
	r := strings.NewReplacer("/", "_", " ", "_")
	return fmt.Sprintf("ocirun-test-%d-%s", os.Getpid(), r.Replace(t.Name()))
}

func self(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// StartSleeper starts a child that sleeps until the test ends.
func StartSleeper(t testing.TB, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(self(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=sleep")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// Opener is a child that opens a path once Go is called.
type Opener struct {
	cmd     *exec.Cmd
	release io.WriteCloser
	out     strings.Builder
	Pid     int
	T       *testing.T
}

// StartOpener starts a child that, once Go is called, opens path O_RDWR
// and reports "ok" or the error.
func StartOpener(t *testing.T, path string, attr *syscall.SysProcAttr) *Opener {
	t.Helper()
	o := &Opener{T: t}
	o.cmd = exec.Command(self(t), "-test.run=^$", path)
	o.cmd.Env = append(os.Environ(), envChild+"=open")
	o.cmd.SysProcAttr = attr
	o.cmd.Stdout = &o.out
	w, err := o.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o.release = w
	o.Pid = o.cmd.Process.Pid
	t.Cleanup(func() {
		_ = o.cmd.Process.Kill()
		_ = o.cmd.Wait()
	})
	return o
}

// Go lets the child open its path and returns what it reported.
func (o *Opener) Go() string {
	o.T.Helper()
	if _, err := o.release.Write([]byte{1}); err != nil {
		o.T.Fatal(err)
	}
	o.release.Close()
	_ = o.cmd.Wait()
	return o.out.String()
}

// StartHog starts a child that, once release is called, allocates memory
// until it is killed.
func StartHog(t *testing.T, attr *syscall.SysProcAttr) (cmd *exec.Cmd, release func()) {
	t.Helper()
	cmd = exec.Command(self(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=hog")
	cmd.SysProcAttr = attr
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, func() {
		_, _ = w.Write([]byte{1})
		w.Close()
	}
}
