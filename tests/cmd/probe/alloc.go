package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"
)

// cmdAlloc maps MB mebibytes of anonymous memory and touches every page, so
// the memory cgroup charges all of it; prints "allocated MB" if it survives.
// mmap, not Go slices: the garbage collector must not return pages midway.
func cmdAlloc(args []string) {
	mb := atoiArg(args, "alloc MB")
	mem, err := unix.Mmap(-1, 0, mb<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fatalf("alloc: mmap %d MiB: %v", mb, err)
	}
	page := os.Getpagesize()
	for i := 0; i < len(mem); i += page {
		mem[i] = 1
	}
	fmt.Printf("allocated %d\n", mb)
}

// cmdFork starts up to N children (`sleep 60`, single-threaded busybox) and
// prints "forked K errno NAME" for the first start that fails, or "forked N".
// The children die with the container's PID namespace when the probe (its
// init) exits.
func cmdFork(args []string) {
	n := atoiArg(args, "fork N")
	// No collections while the pids limit is reached: the Go runtime must not
	// need another thread then.
	debug.SetGCPercent(-1)
	for i := 0; i < n; i++ {
		cmd := exec.Command("/bin/sleep", "60")
		if err := cmd.Start(); err != nil {
			fmt.Printf("forked %d errno %s\n", i, errnoName(err))
			return
		}
	}
	fmt.Println("forked " + strconv.Itoa(n))
}
