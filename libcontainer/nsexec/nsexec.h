#ifndef OCIRUN_NSEXEC_H
#define OCIRUN_NSEXEC_H

#include <stddef.h>
#include <stdint.h>

// Bootstrap record types; keep in sync with nsexec.go.
#define BOOT_CLONE_FLAGS 1
#define BOOT_NS_PATH 2
#define BOOT_TIME_OFFSETS 3
#define BOOT_FORK 4
// BOOT_PROCESS (u32 mode) keeps init in C after the namespaces: the process
// stage (process.c) runs the parent's plan and execs the user program, and the
// Go runtime never starts. Without it the C stage returns to Go.
#define BOOT_PROCESS 5
// BOOT_PROC_CONTEXTS (u32 n): how many fsopen("proc") contexts the process
// stage hands the parent for the container's proc mounts.
#define BOOT_PROC_CONTEXTS 6
// BOOT_IDMAP_DUMPABLE: init is dumpable while the parent writes the id maps
// of its new user namespace. An unprivileged parent (rootless) may only
// open /proc/<pid>/uid_map, and newuidmap only accepts a target, that the
// user owns; a non-dumpable process's /proc files belong to root.
#define BOOT_IDMAP_DUMPABLE 7

#define PROCESS_CREATE 1
#define PROCESS_EXEC 2

// Plan record types (process.c); keep in sync with plan.go. Strings end in NUL.
#define PLAN_ARG 1          // string, repeated: argv
#define PLAN_ENV 2          // string, repeated: envp as execve gets it
#define PLAN_CWD 3          // string
#define PLAN_USER 4         // u32 uid, u32 gid
#define PLAN_GROUPS 5       // u32[]: the supplementary groups (setgroups)
#define PLAN_CAPS 6         // u64 bounding, effective, inheritable, permitted, ambient; u32 last cap
#define PLAN_NNP 7          // no payload
#define PLAN_RLIMIT 8       // u32 resource, u32 index, u64 soft, u64 hard
#define PLAN_KEYLABEL 9     // string: the SELinux label of the session keyring
#define PLAN_LSM 10         // u32 kind, then "file\0value\0" (file relative to thread-self)
#define PLAN_SECCOMP 11     // u32 when, u32 flags, struct sock_filter[]
#define PLAN_PERSONALITY 12 // u32
#define PLAN_SCHED 13       // u32 policy, u32 priority, u64 flags, s32 nice, u32 0, u64 runtime, deadline, period
#define PLAN_IOPRIO 14      // u32
#define PLAN_AFFINITY 15    // u8[]: the final CPU mask
#define PLAN_MEMPOLICY 16   // u32 mode, u32 words, u64 maxnode, u64[words] nodes, the mode's name
#define PLAN_UMASK 17       // u32
#define PLAN_PRESERVE 18    // u32: fds 3.. kept open
#define PLAN_FIFO 19        // u32: the inherited O_PATH fd of exec.fifo
#define PLAN_KEYRING 20     // string: session keyring name
#define PLAN_CONSOLE 21     // u32 mode, u16 rows, u16 cols
#define PLAN_ROOTFD 22      // no payload: the frame's fd is the rootfs (no pivot_root)
#define PLAN_TRACE 23       // no payload
#define PLAN_HOOK 24        // u32 timeout, path: a startContainer hook
#define PLAN_HOOK_ARG 25    // string: an argv entry of the last hook
#define PLAN_HOOK_ENV 26    // string: an env entry of the last hook
#define PLAN_HOOK_STATE 27  // "pre\0post\0": the hooks' state around init's pid
#define PLAN_DEBUG 28       // no payload: send a debug line per step with "ready" (--debug)

// PLAN_SECCOMP when
#define SECCOMP_EARLY 1  // before the final capabilities (no no_new_privs)
#define SECCOMP_READY 2  // before "ready" (no_new_privs, with a listener)
#define SECCOMP_LAST 3   // right before execve (no_new_privs)

// PLAN_CONSOLE modes
#define CONSOLE_FD 1  // the plan frame's fd is the pty slave (create)
#define CONSOLE_NEW 2 // open a pty in the container, send the master (exec)

// PLAN_LSM kinds
#define LSM_APPARMOR 1
#define LSM_SELINUX 2

// The bootstrap frame is small; a larger one is a bug or an attack (CVE-2021-43784).
#define BOOT_MAX (1 << 20)
// A plan carries the process's args, env and seccomp program: bounded like
// the parent's own frames.
#define PLAN_MAX (16 << 20)

void ocirun_nsexec(void);

// sync.c: the init end of the socketpair. Frames are a little-endian u32
// length and a payload; what init sends is JSON, what it reads is binary.
extern int sync_fd;
void bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void bail_step(const char *step, long arg, int err) __attribute__((noreturn));
void bail_detail(const char *step, long arg, int err, const char *detail) __attribute__((noreturn));
void write_frame_fds(const char *json, const int *fds, int nfds);
void write_frame(const char *json);
char *read_frame(uint32_t *lenp, uint32_t max, int *fds, int *nfds, int maxfds);
void expect_frame(const char *type);
// json_escape writes s into out (at most outlen-1 bytes) as the inside of a
// JSON string.
void json_escape(char *out, size_t outlen, const char *s);

// process.c
void ocirun_process(uint32_t mode, uint32_t proc_contexts) __attribute__((noreturn));

// start.plan in a container's state dir: "<init pid> <start time>\n", left
// by create when `start` is only its fifo (faststart.c); keep in sync with
// state.StartPlan.
#define START_PLAN "start.plan"

void ocirun_fast_start(int argc, char **argv);

#endif
