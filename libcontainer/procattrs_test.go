package libcontainer

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ocirun/ocirun/libcontainer/configs"
)

// onFreshThread runs f on an OS thread of its own that dies afterwards
// (locked and never unlocked), so what f changes never reaches other tests.
func onFreshThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		f()
	}()
	<-done
}

// TestApplyAttrsOnThread: the attributes set on the calling thread, as the
// kernel reports them back; only changes an unprivileged thread may make, so no
// root needed.
func TestApplyAttrsOnThread(t *testing.T) {
	p := &configs.Process{Attrs: &configs.ProcAttrs{
		Personality:  &configs.Personality{Domain: 0x0008, Name: "LINUX32"},
		Scheduler:    &configs.Scheduler{Policy: unix.SCHED_BATCH, Name: "SCHED_BATCH", Nice: 19},
		IOPriority:   &configs.IOPriority{Class: 3}, // idle: allowed without privilege
		CPUAffinity:  &configs.CPUAffinity{Final: []configs.Range{{First: 0, Last: 0}}},
		MemoryPolicy: &configs.MemoryPolicy{Mode: unix.MPOL_INTERLEAVE, Name: "MPOL_INTERLEAVE", Nodes: []configs.Range{{}}},
	}}
	var (
		early, final error
		machine      string
		attr         *unix.SchedAttr
		schedErr     error
		ioprio       uintptr
		cpus         unix.CPUSet
		mode         int
		nodes        uint64
		mpolErr      unix.Errno
	)
	onFreshThread(func() {
		if early = applyEarlyAttrs(p); early != nil {
			return
		}
		if final = applyFinalAttrs(p); final != nil {
			return
		}
		var u unix.Utsname
		_ = unix.Uname(&u)
		machine = unix.ByteSliceToString(u.Machine[:])
		attr, schedErr = unix.SchedGetAttr(0, 0)
		ioprio, _, _ = unix.RawSyscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, 0, 0)
		_ = unix.SchedGetaffinity(0, &cpus)
		_, _, mpolErr = unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), uintptr(unsafe.Pointer(&nodes)), 65, 0, 0, 0)
	})
	if early != nil || final != nil {
		t.Fatalf("applyEarlyAttrs: %v; applyFinalAttrs: %v", early, final)
	}
	if machine != "i686" && runtime.GOARCH == "amd64" {
		t.Errorf("uname -m under LINUX32 = %q, want i686", machine)
	}
	if schedErr != nil || attr.Policy != unix.SCHED_BATCH || attr.Nice != 19 {
		t.Errorf("sched_getattr = %+v, %v; want SCHED_BATCH nice 19", attr, schedErr)
	}
	if ioprio != 3<<13 {
		t.Errorf("ioprio_get = %#x, want IOPRIO_CLASS_IDLE (%#x)", ioprio, 3<<13)
	}
	if cpus.Count() != 1 || !cpus.IsSet(0) {
		t.Errorf("affinity has %d CPUs (CPU 0: %v), want only CPU 0", cpus.Count(), cpus.IsSet(0))
	}
	if mpolErr != 0 || mode != unix.MPOL_INTERLEAVE || nodes != 1 {
		t.Errorf("get_mempolicy = mode %d nodes %#x (%v), want MPOL_INTERLEAVE (%d) on node 0", mode, nodes, mpolErr, unix.MPOL_INTERLEAVE)
	}
}

// TestApplyAttrsErrors: kernel refusals come back naming the spec field.
func TestApplyAttrsErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs *configs.ProcAttrs
		final bool
		want  string
	}{
		{"absent CPU", &configs.ProcAttrs{CPUAffinity: &configs.CPUAffinity{Final: []configs.Range{{First: 8000, Last: 8000}}}}, true,
			"process.execCPUAffinity.final: sched_setaffinity: invalid argument"},
		{"absent node", &configs.ProcAttrs{MemoryPolicy: &configs.MemoryPolicy{Mode: unix.MPOL_BIND, Name: "MPOL_BIND", Nodes: []configs.Range{{First: 1000, Last: 1000}}}}, true,
			"linux.memoryPolicy: set_mempolicy(MPOL_BIND): invalid argument"},
		{"unknown mode", &configs.ProcAttrs{MemoryPolicy: &configs.MemoryPolicy{Mode: 99, Name: "MPOL_FUTURE"}}, true,
			"linux.memoryPolicy: set_mempolicy(MPOL_FUTURE): invalid argument"},
		{"deadline without runtime", &configs.ProcAttrs{Scheduler: &configs.Scheduler{Policy: unix.SCHED_DEADLINE, Name: "SCHED_DEADLINE"}}, false,
			"process.scheduler: sched_setattr(SCHED_DEADLINE): invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			onFreshThread(func() {
				p := &configs.Process{Attrs: tc.attrs}
				if tc.final {
					err = applyFinalAttrs(p)
				} else {
					err = applyEarlyAttrs(p)
				}
			})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to start with %q", err, tc.want)
			}
		})
	}
}
