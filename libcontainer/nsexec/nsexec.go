// Package nsexec holds the C stages of `ocirun init` (joining and creating
// namespaces before the Go runtime starts; with a plan, the whole process
// setup and execve without it) and the encoding of their frames; and
// `ocirun start` of a plain container, also before the Go runtime.
package nsexec

/*
#cgo CFLAGS: -Wall -O2
#include "nsexec.h"
// glibc passes a constructor main's arguments.
#include <malloc.h>
__attribute__((constructor)) static void init_nsexec(int argc, char **argv, char **envp)
{
	// One malloc arena: cgo's thread start calls malloc on each new thread,
	// and glibc would map, trim and protect a 64 MiB arena for every one
	// (~16 syscalls and 7 page faults per `run`, and each munmap of a
	// multithreaded process is a TLB shootdown). Nothing here mallocs in
	// parallel enough to need more.
	mallopt(M_ARENA_MAX, 1);
	ocirun_nsexec();
	ocirun_fast_start(argc, argv);
}
*/
import "C"

import (
	"encoding/binary"
	"fmt"
)

// Record types of the bootstrap frame; they match nsexec.h.
const (
	recCloneFlags  = 1
	recNSPath      = 2
	recTimeOffsets = 3
	recFork        = 4
	recProcess     = 5
	recProcCtx     = 6
	recDumpable    = 7
	maxBootstrap   = 1 << 20
)

// NSPath is a namespace to join: its CLONE_NEW* flag and the path of its nsfs file.
type NSPath struct {
	Flag uint32
	Path string
}

// Bootstrap is what the C stage needs: which namespaces to join, which to create,
// the time namespace offsets, and whether to fork (new or joined pid/time ns).
type Bootstrap struct {
	CloneFlags  uint32
	Join        []NSPath
	TimeOffsets string
	Fork        bool
	// Process keeps init in C after the namespaces (ProcessCreate or
	// ProcessExec): it runs a Plan and execs; 0 returns to Go.
	Process uint32
	// ProcContexts is how many fsopen("proc") contexts the process stage of a
	// create sends for the container's proc mounts (at most 4).
	ProcContexts uint32
	// IdmapDumpable keeps init dumpable while an unprivileged parent writes
	// the id maps of its new user namespace (itself or through newuidmap):
	// /proc/<pid> of a non-dumpable process belongs to root.
	IdmapDumpable bool
}

// Encode returns the bootstrap payload (without the frame's length prefix).
// Every field has a 32-bit length, so no attribute can overflow its length
// field the way runc's 16-bit netlink lengths did (CVE-2021-43784); the whole
// payload is bounded instead.
func (b *Bootstrap) Encode() ([]byte, error) {
	var out []byte
	add := func(typ uint16, data []byte) {
		var hdr [8]byte
		binary.LittleEndian.PutUint16(hdr[0:], typ)
		binary.LittleEndian.PutUint32(hdr[4:], uint32(len(data)))
		out = append(out, hdr[:]...)
		out = append(out, data...)
	}
	var flags [4]byte
	binary.LittleEndian.PutUint32(flags[:], b.CloneFlags)
	add(recCloneFlags, flags[:])
	if len(b.Join) > 16 {
		return nil, fmt.Errorf("bootstrap: %d namespace paths, at most 16", len(b.Join))
	}
	for _, ns := range b.Join {
		if ns.Path == "" || len(ns.Path) > 4096 {
			return nil, fmt.Errorf("bootstrap: namespace path %q: bad length", ns.Path)
		}
		for i := 0; i < len(ns.Path); i++ {
			if ns.Path[i] == 0 {
				return nil, fmt.Errorf("bootstrap: namespace path %q contains NUL", ns.Path)
			}
		}
		d := make([]byte, 4, 4+len(ns.Path))
		binary.LittleEndian.PutUint32(d, ns.Flag)
		add(recNSPath, append(d, ns.Path...))
	}
	if b.TimeOffsets != "" {
		add(recTimeOffsets, []byte(b.TimeOffsets))
	}
	if b.Fork {
		add(recFork, nil)
	}
	if b.IdmapDumpable {
		add(recDumpable, nil)
	}
	if b.Process != 0 {
		add(recProcess, binary.LittleEndian.AppendUint32(nil, b.Process))
		if b.ProcContexts > 4 {
			return nil, fmt.Errorf("bootstrap: %d proc mounts, at most 4", b.ProcContexts)
		}
		add(recProcCtx, binary.LittleEndian.AppendUint32(nil, b.ProcContexts))
	}
	if len(out) > maxBootstrap {
		return nil, fmt.Errorf("bootstrap: %d bytes exceeds %d", len(out), maxBootstrap)
	}
	return out, nil
}
