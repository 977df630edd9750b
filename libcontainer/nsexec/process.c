// The process stage of `ocirun init`. With BOOT_PROCESS, init never starts the
// Go runtime: for `create` the parent builds the container's filesystem from a
// thread inside its namespaces, and `exec` needs no filesystem work, so what is
// left belongs to the process itself and fits in a plan the parent compiled:
// its terminal, LSM labels, rlimits, no_new_privs, capabilities and ids, cwd,
// seccomp, the wait on exec.fifo and execve. A Go init costs ~2.5 ms to start
// and keeps ~1.3 MiB of heap while a created container waits; this costs
// neither. The order of the steps is the Go init's (libcontainer/init.go),
// which the security suite checks.
//
// Errors before "ready" go to the parent as a step name, an index and an
// errno (bail_step), and the parent words them from the config; after
// "ready" nobody reads the socket, so they go to the container's stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/limits.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "nsexec.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SETPERM 5

#define MAX_FDS 4
#define MAX_RLIMITS 32
#define MAX_LSM 2
#define MAX_HOOKS 64

struct sched_attr_raw {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
};

struct plan {
	char **argv;
	int argc;
	char **envp;
	int envc;
	const char *cwd;
	int has_user;
	uint32_t uid, gid;
	uint32_t *groups;
	int ngroups;
	int has_caps;
	uint64_t bnd, eff, inh, prm, amb;
	uint32_t last_cap;
	int nnp;
	struct {
		uint32_t res, index;
		uint64_t soft, hard;
	} rl[MAX_RLIMITS];
	int nrl;
	const char *keylabel;
	struct {
		uint32_t kind;
		const char *file, *value;
	} lsm[MAX_LSM];
	int nlsm;
	uint32_t sc_when, sc_flags;
	struct sock_filter *bpf;
	uint32_t bpf_len;
	int has_personality;
	uint32_t personality;
	int has_sched;
	struct sched_attr_raw sched;
	int has_ioprio;
	uint32_t ioprio;
	uint8_t *affinity;
	uint32_t affinity_len;
	int has_mempolicy;
	uint32_t mp_mode;
	uint64_t mp_maxnode;
	uint64_t *mp_nodes;
	const char *mp_name;
	uint32_t umask;
	uint32_t preserve;
	int fifo_fd;
	const char *keyring;
	uint32_t console;
	uint16_t rows, cols;
	int console_fd;
	int root_fd;
	int trace;
	struct hook hooks[MAX_HOOKS];
	int nhooks;
	const char *state_pre, *state_post;
	int debug;
};

static struct timespec t_start, t_last;
static char spans[1024];
static size_t spans_len;

// The C stage has no log pipe: what it has to say goes to the parent with
// "ready", as proto.LogLine objects. Warnings always; a debug line per step
// when the plan says so (--debug). A line that does not fit is dropped.
static char notes[16384];
static size_t notes_len;
static int debug_on;

static void note(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const char *level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	// Worst case 6 bytes per byte of msg (\u00XX), plus the frame.
	char line[sizeof(msg) * 6 + 64];
	size_t n = snprintf(line, sizeof(line), "%s{\"level\":\"%s\",\"msg\":\"", notes_len ? "," : "", level);
	for (const unsigned char *c = (const unsigned char *)msg; *c; c++) {
		if (*c == '"' || *c == '\\')
			n += snprintf(line + n, sizeof(line) - n, "\\%c", *c);
		else if (*c < 0x20)
			n += snprintf(line + n, sizeof(line) - n, "\\u%04x", *c);
		else
			line[n++] = *c;
	}
	n += snprintf(line + n, sizeof(line) - n, "\"}");
	if (notes_len + n < sizeof(notes)) {
		memcpy(notes + notes_len, line, n);
		notes_len += n;
	}
}

#define debugf(...)                            \
	do {                                   \
		if (debug_on)                  \
			note("debug", __VA_ARGS__); \
	} while (0)

// cap_names are the capabilities' names, for the warning runc words with one.
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE",
};

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

// mark ends a traced phase, as trace.Recorder.Mark does in the Go init.
static void mark(const struct plan *p, const char *phase)
{
	if (!p->trace)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (spans_len + 128 < sizeof(spans))
		spans_len += snprintf(spans + spans_len, sizeof(spans) - spans_len, "%s{\"cmd\":\"\",\"phase\":\"%s\",\"start_ms\":%.3f,\"dur_ms\":%.3f}",
				      spans_len ? "," : "", phase, ms_between(&t_start, &t_last), ms_between(&t_last, &now));
	t_last = now;
}

// go_strerror words errno as Go's syscall.Errno does: glibc's text with a
// lowercase first letter, so messages read the same from either init.
static const char *go_strerror(int err)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] += 'a' - 'A';
	return buf;
}

// late_fail reports an error after "ready": the parent no longer reads the
// socket, the container's stderr is all that is left.
static void late_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void late_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("ocirun init: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static const char *rec_string(const char *data, uint32_t len, uint16_t type)
{
	if (len == 0 || data[len - 1] != 0 || strlen(data) != len - 1) {
		errno = 0;
		bail("plan record %u: not one NUL-terminated string", type);
	}
	return data;
}

static void need(uint32_t len, uint32_t want, uint16_t type)
{
	if (len < want) {
		errno = 0;
		bail("plan record %u: %u bytes, want %u", type, len, want);
	}
}

static void append_str(char ***list, int *n, const char *s)
{
	char **l = realloc(*list, sizeof(char *) * (*n + 2));
	if (!l)
		bail("realloc");
	l[(*n)++] = (char *)s;
	l[*n] = NULL;
	*list = l;
}

// parse_plan reads the records of buf into p; strings point into buf, which
// lives until execve. fds are the frame's, taken in record order.
static void parse_plan(struct plan *p, char *buf, uint32_t len, int *fds, int nfds)
{
	int next_fd = 0;
	memset(p, 0, sizeof(*p));
	p->fifo_fd = p->console_fd = p->root_fd = -1;
	p->umask = 022;
	for (uint32_t off = 0; off < len;) {
		if (len - off < 8) {
			errno = 0;
			bail("truncated plan record at %u", off);
		}
		uint16_t type;
		uint32_t rlen;
		memcpy(&type, buf + off, 2);
		memcpy(&rlen, buf + off + 4, 4);
		off += 8;
		if (rlen > len - off) {
			errno = 0;
			bail("plan record %u of %u bytes overflows", type, rlen);
		}
		char *d = buf + off;
		off += rlen;
		// Records are 8-byte aligned in the frame: the encoder pads them.
		off += (8 - rlen % 8) % 8;
		switch (type) {
		case PLAN_ARG:
			append_str(&p->argv, &p->argc, rec_string(d, rlen, type));
			break;
		case PLAN_ENV:
			append_str(&p->envp, &p->envc, rec_string(d, rlen, type));
			break;
		case PLAN_CWD:
			p->cwd = rec_string(d, rlen, type);
			break;
		case PLAN_USER:
			need(rlen, 8, type);
			p->has_user = 1;
			memcpy(&p->uid, d, 4);
			memcpy(&p->gid, d + 4, 4);
			break;
		case PLAN_GROUPS:
			p->groups = (uint32_t *)d;
			p->ngroups = rlen / 4;
			break;
		case PLAN_CAPS:
			need(rlen, 44, type);
			p->has_caps = 1;
			memcpy(&p->bnd, d, 8);
			memcpy(&p->eff, d + 8, 8);
			memcpy(&p->inh, d + 16, 8);
			memcpy(&p->prm, d + 24, 8);
			memcpy(&p->amb, d + 32, 8);
			memcpy(&p->last_cap, d + 40, 4);
			if (p->last_cap > 63) {
				errno = 0;
				bail("plan: last capability %u", p->last_cap);
			}
			break;
		case PLAN_NNP:
			p->nnp = 1;
			break;
		case PLAN_RLIMIT:
			need(rlen, 24, type);
			if (p->nrl == MAX_RLIMITS) {
				errno = 0;
				bail("plan: too many rlimits");
			}
			memcpy(&p->rl[p->nrl].res, d, 4);
			memcpy(&p->rl[p->nrl].index, d + 4, 4);
			memcpy(&p->rl[p->nrl].soft, d + 8, 8);
			memcpy(&p->rl[p->nrl].hard, d + 16, 8);
			p->nrl++;
			break;
		case PLAN_KEYLABEL:
			p->keylabel = rec_string(d, rlen, type);
			break;
		case PLAN_LSM: {
			need(rlen, 6, type);
			if (p->nlsm == MAX_LSM || d[rlen - 1] != 0) {
				errno = 0;
				bail("plan: bad LSM record");
			}
			memcpy(&p->lsm[p->nlsm].kind, d, 4);
			p->lsm[p->nlsm].file = d + 4;
			size_t fl = strlen(d + 4);
			if (4 + fl + 1 >= rlen) {
				errno = 0;
				bail("plan: bad LSM record");
			}
			p->lsm[p->nlsm].value = d + 4 + fl + 1;
			p->nlsm++;
			break;
		}
		case PLAN_SECCOMP:
			need(rlen, 16, type);
			memcpy(&p->sc_when, d, 4);
			memcpy(&p->sc_flags, d + 4, 4);
			p->bpf = (struct sock_filter *)(d + 8);
			p->bpf_len = (rlen - 8) / sizeof(struct sock_filter);
			if (p->bpf_len == 0 || p->bpf_len > BPF_MAXINSNS || (rlen - 8) % sizeof(struct sock_filter)) {
				errno = 0;
				bail("plan: seccomp program of %u bytes", rlen - 8);
			}
			break;
		case PLAN_PERSONALITY:
			need(rlen, 4, type);
			p->has_personality = 1;
			memcpy(&p->personality, d, 4);
			break;
		case PLAN_SCHED:
			need(rlen, 48, type);
			p->has_sched = 1;
			p->sched.size = sizeof(p->sched);
			memcpy(&p->sched.policy, d, 4);
			memcpy(&p->sched.priority, d + 4, 4);
			memcpy(&p->sched.flags, d + 8, 8);
			memcpy(&p->sched.nice, d + 16, 4);
			memcpy(&p->sched.runtime, d + 24, 8);
			memcpy(&p->sched.deadline, d + 32, 8);
			memcpy(&p->sched.period, d + 40, 8);
			break;
		case PLAN_IOPRIO:
			need(rlen, 4, type);
			p->has_ioprio = 1;
			memcpy(&p->ioprio, d, 4);
			break;
		case PLAN_AFFINITY:
			need(rlen, 1, type);
			p->affinity = (uint8_t *)d;
			p->affinity_len = rlen;
			break;
		case PLAN_MEMPOLICY: {
			need(rlen, 17, type);
			p->has_mempolicy = 1;
			uint32_t words;
			memcpy(&p->mp_mode, d, 4);
			memcpy(&words, d + 4, 4);
			memcpy(&p->mp_maxnode, d + 8, 8);
			if (words > 1024 || p->mp_maxnode > (uint64_t)words * 64 + 1) {
				errno = 0;
				bail("plan: memory policy of %u words, maxnode %lu", words, (unsigned long)p->mp_maxnode);
			}
			need(rlen, 16 + words * 8 + 1, type);
			p->mp_nodes = words ? (uint64_t *)(d + 16) : NULL;
			p->mp_name = rec_string(d + 16 + words * 8, rlen - 16 - words * 8, type);
			break;
		}
		case PLAN_UMASK:
			need(rlen, 4, type);
			memcpy(&p->umask, d, 4);
			break;
		case PLAN_PRESERVE:
			need(rlen, 4, type);
			memcpy(&p->preserve, d, 4);
			break;
		case PLAN_FIFO:
			need(rlen, 4, type);
			memcpy(&p->fifo_fd, d, 4);
			break;
		case PLAN_KEYRING:
			p->keyring = rec_string(d, rlen, type);
			break;
		case PLAN_CONSOLE:
			need(rlen, 8, type);
			memcpy(&p->console, d, 4);
			memcpy(&p->rows, d + 4, 2);
			memcpy(&p->cols, d + 6, 2);
			if (p->console == CONSOLE_FD) {
				if (next_fd >= nfds) {
					errno = 0;
					bail("plan: console without its fd");
				}
				p->console_fd = fds[next_fd++];
			}
			break;
		case PLAN_ROOTFD:
			if (next_fd >= nfds) {
				errno = 0;
				bail("plan: rootfs without its fd");
			}
			p->root_fd = fds[next_fd++];
			break;
		case PLAN_TRACE:
			p->trace = 1;
			break;
		case PLAN_DEBUG:
			p->debug = 1;
			break;
		case PLAN_HOOK:
			need(rlen, 6, type);
			if (p->nhooks == MAX_HOOKS) {
				errno = 0;
				bail("plan: too many hooks");
			}
			memcpy(&p->hooks[p->nhooks].timeout, d, 4);
			p->hooks[p->nhooks].path = rec_string(d + 4, rlen - 4, type);
			p->nhooks++;
			break;
		case PLAN_HOOK_ARG:
		case PLAN_HOOK_ENV: {
			if (p->nhooks == 0) {
				errno = 0;
				bail("plan: hook record %u before a hook", type);
			}
			struct hook *h = &p->hooks[p->nhooks - 1];
			if (type == PLAN_HOOK_ARG)
				append_str(&h->argv, &h->argc, rec_string(d, rlen, type));
			else
				append_str(&h->envp, &h->envc, rec_string(d, rlen, type));
			break;
		}
		case PLAN_HOOK_STATE: {
			need(rlen, 2, type);
			p->state_pre = d;
			size_t l = strnlen(d, rlen);
			if (l + 1 >= rlen || d[rlen - 1] != 0 || strlen(d + l + 1) != rlen - l - 2) {
				errno = 0;
				bail("plan: bad hook state record");
			}
			p->state_post = d + l + 1;
			break;
		}
		default:
			errno = 0;
			bail("unknown plan record type %u", type);
		}
	}
	if (next_fd != nfds || p->argc == 0 || !p->cwd) {
		errno = 0;
		bail("plan: %d of %d fds used, %d args, cwd %s", next_fd, nfds, p->argc, p->cwd ? p->cwd : "unset");
	}
}

// open_proc returns a procfs of our own pid namespace that nothing in the
// container can have mounted over: a fresh detached instance where the
// kernel allows one, else the container's /proc checked to be procfs.
static int open_proc(void)
{
	int fs = syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fs >= 0) {
		int mnt = -1;
		if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
			mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
		close(fs);
		if (mnt >= 0)
			return mnt;
	}
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct statfs st;
	if (fd < 0 || fstatfs(fd, &st) < 0 || st.f_type != PROC_SUPER_MAGIC)
		bail_step("procfs", 0, fd < 0 ? errno : EXDEV);
	return fd;
}

// open_proc_file opens a file of proc for writing and checks that it is
// procfs's own and not something mounted over it (CVE-2019-16884).
static int open_proc_file(int proc, const char *path, const char *step, long arg)
{
	int fd = openat(proc, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		bail_step(step, arg, errno);
	struct statfs st;
	struct statx a, b;
	if (fstatfs(fd, &st) < 0 || st.f_type != PROC_SUPER_MAGIC ||
	    statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &a) < 0 ||
	    statx(proc, "", AT_EMPTY_PATH, STATX_MNT_ID, &b) < 0 || a.stx_mnt_id != b.stx_mnt_id)
		bail_step(step, arg, EXDEV);
	return fd;
}

static void write_proc(int proc, const char *path, const char *value, const char *step, long arg)
{
	int fd = open_proc_file(proc, path, step, arg);
	size_t n = strlen(value);
	if (write(fd, value, n) != (ssize_t)n)
		bail_step(step, arg, errno);
	close(fd);
}

static void join_keyring(const char *name)
{
	long key = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
	if (key < 0 && errno == ENOSYS)
		return; // a kernel without keyrings: nothing to isolate
	if (key < 0)
		bail_step("keyring", 0, errno);
	// possessor: all; user: view, read, write, search, link, setattr.
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, key, 0x3f3f0000, 0, 0) < 0)
		bail_step("keyring-perm", 0, errno);
}

// take_terminal makes fd our controlling terminal and our stdio.
static void take_terminal(int fd)
{
	if (getsid(0) != getpid() && setsid() < 0)
		bail_step("setsid", 0, errno);
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		bail_step("ctty", 0, errno);
	for (int i = 0; i <= 2; i++) {
		if (fd == i) {
			if (fcntl(fd, F_SETFD, 0) < 0)
				bail_step("ctty-fd", i, errno);
			continue;
		}
		if (dup3(fd, i, 0) < 0)
			bail_step("ctty-fd", i, errno);
	}
	if (fd > 2)
		close(fd);
}

// new_pty opens a pty on the container's devpts for `exec -t`, sends the
// master to the parent and returns the slave, opened through the master
// (TIOCGPTPEER) so nothing can swap /dev/pts/N in between (CVE-2025-52565).
static int new_pty(const struct plan *p)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		bail_step("ptmx", 0, errno);
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		bail_step("ptmx-unlock", 0, errno);
	unsigned int n;
	if (ioctl(m, TIOCGPTN, &n) < 0)
		bail_step("ptmx-ptn", 0, errno);
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		bail_step("ptmx-peer", n, errno);
	struct stat st;
	if (fstat(s, &st) < 0)
		bail_step("ptmx-peer", n, errno);
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) < 136 || major(st.st_rdev) > 143)
		bail_step("ptmx-peer", n, EXDEV);
	// The terminal of a non-root process is its own, as runc gives it
	// (the group stays devpts's, tty). Through the handle, never a path.
	if (p->has_user && p->uid != 0 && st.st_uid != p->uid) {
		if (fchown(s, p->uid, -1) < 0)
			debugf("init: chown /dev/pts/%u to uid %u: %s (left as it is)", n, p->uid, go_strerror(errno));
		else
			debugf("init: /dev/pts/%u owned by uid %u", n, p->uid);
	}
	if (p->rows || p->cols) {
		struct winsize ws = {.ws_row = p->rows, .ws_col = p->cols};
		if (ioctl(m, TIOCSWINSZ, &ws) < 0)
			bail_step("winsize", 0, errno);
	}
	write_frame_fds("{\"type\":\"console\"}", &m, 1);
	close(m);
	return s;
}

static void drop_bounding(const struct plan *p)
{
	for (uint32_t c = 0; c <= p->last_cap; c++) {
		if (p->bnd & (1ULL << c))
			continue;
		// Reading first lets an already-reduced set pass without CAP_SETPCAP.
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			bail_step("bounding-read", c, errno);
		if (in && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			bail_step("bounding", c, errno);
	}
}

static int capset3(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

// raise_permitted makes the permitted set effective again: a filter loaded
// without no_new_privs needs CAP_SYS_ADMIN after a switch to a non-root uid.
static void raise_permitted(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		bail_step("capget", 0, errno);
	d[0].effective = d[0].permitted;
	d[1].effective = d[1].permitted;
	if (syscall(SYS_capset, &h, d) < 0)
		bail_step("capset-raise", 0, errno);
}

static void apply_caps(const struct plan *p)
{
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		bail_step("keepcaps-clear", 0, errno);
	if (capset3(p->eff, p->prm, p->inh) < 0)
		bail_step("capset", 0, errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		bail_step("ambient-clear", 0, errno);
	// As runc 1.4: an ambient capability the kernel will not raise is a
	// warning, not a failure (the parent already left out those missing
	// from permitted or inheritable).
	for (uint32_t c = 0; c <= p->last_cap; c++) {
		if (!(p->amb & (1ULL << c)) || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) == 0)
			continue;
		int err = errno;
		if (c < sizeof(cap_names) / sizeof(cap_names[0]))
			note("warning", "can't raise ambient capability CAP_%s: %s", cap_names[c], go_strerror(err));
		else
			note("warning", "can't raise ambient capability %u: %s", c, go_strerror(err));
	}
}

// fix_stdio gives the process's user the stdio it inherits, as runc does,
// so that it may reopen them by path (`echo > /dev/stdout` as a non-root
// user): the pipes and sockets a client hands over and a pty. Only those:
// unlike runc, never a file or another device, which would hand the
// container's user a file the caller redirected to on the host. Only the
// owner changes; the group stays (devpts' tty group). What the kernel will
// not let us change is left: an owner or group not mapped in our user
// namespace (EPERM, EINVAL), a read-only mount (EROFS).
static void fix_stdio(const struct plan *p)
{
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			if (errno == EBADF)
				continue;
			bail_step("stdio", fd, errno);
		}
		int pty = S_ISCHR(st.st_mode) && major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
		if (st.st_uid == p->uid || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || pty))
			continue;
		if (fchown(fd, p->uid, st.st_gid) < 0 && errno != EPERM && errno != EINVAL && errno != EROFS)
			bail_step("stdio", fd, errno);
	}
}

static void set_user(const struct plan *p, int *proc)
{
	fix_stdio(p);
	if (syscall(SYS_setgroups, p->ngroups, p->groups) < 0) {
		int err = errno;
		// A user namespace whose setgroups file says deny (rootless) has
		// only its mapped group.
		char buf[16] = {0};
		if (err == EPERM) {
			if (*proc < 0)
				*proc = open_proc();
			int fd = openat(*proc, "self/setgroups", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0) {
				(void)!read(fd, buf, sizeof(buf) - 1);
				close(fd);
			}
		}
		if (strncmp(buf, "deny", 4) != 0)
			bail_step("setgroups", 0, err);
	}
	// Raw syscalls: glibc's wrappers would signal threads we do not have.
	if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
		bail_step("setgid", p->gid, errno);
	if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
		bail_step("setuid", p->uid, errno);
}

static int load_seccomp(const struct plan *p)
{
	struct sock_fprog prog = {.len = p->bpf_len, .filter = p->bpf};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->sc_flags, &prog);
	if (r < 0)
		return -errno;
	return r;
}

// send_listener hands a NOTIFY profile's listener to the parent and closes
// ours, so the container can never answer its own notifications.
static void seccomp_with_listener(const struct plan *p)
{
	int r = load_seccomp(p);
	if (r < 0)
		bail_step("seccomp", 0, -r);
	if (p->sc_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
		write_frame_fds("{\"type\":\"seccomp-fd\"}", &r, 1);
		close(r);
	}
}

// env_path is PATH as the Go init's os.Getenv saw it: the last one wins.
static const char *env_path(const struct plan *p)
{
	const char *path = NULL;
	for (int i = 0; i < p->envc; i++)
		if (strncmp(p->envp[i], "PATH=", 5) == 0)
			path = p->envp[i] + 5;
	return path;
}

// find_exec is os/exec's findExecutable: 0, or the step kind and errno of
// the failure for the parent's wording.
static int find_exec(const char *file, int *err)
{
	struct stat st;
	if (stat(file, &st) < 0) {
		*err = errno;
		return 1; // stat
	}
	if (S_ISDIR(st.st_mode)) {
		*err = EISDIR;
		return 2;
	}
	if (syscall(SYS_faccessat2, AT_FDCWD, file, X_OK, AT_EACCESS) == 0)
		return 0;
	*err = errno;
	if (*err != ENOSYS && *err != EPERM)
		return 2;
	if (st.st_mode & 0111)
		return 0;
	*err = EACCES;
	return 2;
}

// clean_join is filepath.Join(dir, file) for what PATH lookups need: one
// slash between, no trailing or doubled slashes, "." dropped.
static void clean_join(char *out, size_t n, const char *dir, size_t dlen, const char *file)
{
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen == 1 && dir[0] == '.')
		snprintf(out, n, "%s", file);
	else if (dlen == 1 && dir[0] == '/')
		snprintf(out, n, "/%s", file);
	else
		snprintf(out, n, "%.*s/%s", (int)dlen, dir, file);
}

// look_path is the Go init's exec.LookPath with the container's PATH, as the
// user the process runs as. Failures name kind: 1 stat, 2 not executable,
// 3 not found in $PATH, 4 relative to the current directory.
static char *look_path(const struct plan *p)
{
	static char found[PATH_MAX];
	const char *file = p->argv[0];
	int err = 0, kind;
	if (strchr(file, '/')) {
		kind = find_exec(file, &err);
		if (kind == 0)
			return (char *)file;
		bail_detail("lookpath", kind, err, file);
	}
	const char *path = env_path(p);
	for (const char *dir = path; path && dir;) {
		const char *end = strchr(dir, ':');
		size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
		if (dlen == 0)
			clean_join(found, sizeof(found), ".", 1, file);
		else
			clean_join(found, sizeof(found), dir, dlen, file);
		if (find_exec(found, &err) == 0) {
			if (found[0] != '/')
				bail_detail("lookpath", 4, 0, file);
			return found;
		}
		dir = end ? end + 1 : NULL;
	}
	bail_detail("lookpath", 3, 0, file);
}

static void wait_fifo(const struct plan *p, int proc)
{
	char path[32];
	snprintf(path, sizeof(path), "self/fd/%d", p->fifo_fd);
	// Blocks until `ocirun start` opens the fifo for reading. It stays open
	// until execve closes it: start reads EOF once the user program runs.
	int fd = openat(proc, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		late_fail("open exec fifo: %s", go_strerror(errno));
	if (write(fd, "0", 1) != 1)
		late_fail("write exec fifo: %s", go_strerror(errno));
}

static void final_attrs(const struct plan *p)
{
	if (p->affinity && syscall(SYS_sched_setaffinity, 0, p->affinity_len, p->affinity) < 0) {
		int err = errno;
		late_fail("process.execCPUAffinity.final: sched_setaffinity: %s%s", go_strerror(err),
			  err == EINVAL ? " (no CPU of the list is online and in the container's cpuset)" : "");
	}
	if (p->has_mempolicy && syscall(SYS_set_mempolicy, p->mp_mode, p->mp_nodes, p->mp_maxnode) < 0) {
		int err = errno;
		late_fail("linux.memoryPolicy: set_mempolicy(%s): %s%s", p->mp_name, go_strerror(err),
			  err == EINVAL ? " (a mode or flag this kernel lacks, or nodes outside the container's cpuset.mems)" : "");
	}
}

void ocirun_process(uint32_t mode, uint32_t proc_contexts)
{
	struct plan p;
	int proc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t_start);
	t_last = t_start;
	// The sealed binary we run from is mapped: its fd must not stay open, or
	// args[0] = /proc/self/fd/N would run ocirun again inside the container
	// (a CVE-2024-21626 variant) before close-on-exec applies. Nothing is
	// logged from C: the log pipe goes too.
	for (const char **e = (const char *[]){"_OCIRUN_EXEFD", "_OCIRUN_LOGPIPE", NULL}; *e; e++) {
		const char *v = getenv(*e);
		if (v && atoi(v) > 2)
			close(atoi(v));
	}
	if (mode == PROCESS_CREATE) {
		// The parent builds the rootfs from its own thread, which cannot
		// join our pid namespace: it mounts the container's procfs from
		// contexts made here, in it. Our own instance is for exec.fifo.
		int ctx[4];
		for (uint32_t i = 0; i < proc_contexts; i++) {
			ctx[i] = syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
			if (ctx[i] < 0)
				bail("fsopen proc");
		}
		write_frame_fds("{\"type\":\"procfs\"}", ctx, proc_contexts);
		for (uint32_t i = 0; i < proc_contexts; i++)
			close(ctx[i]);
		proc = open_proc();
	}

	uint32_t len;
	int fds[MAX_FDS], nfds = 0;
	char *buf = read_frame(&len, PLAN_MAX, fds, &nfds, MAX_FDS);
	parse_plan(&p, buf, len, fds, nfds);
	clock_gettime(CLOCK_MONOTONIC, &t_last); // the wait for the plan is the parent's time
	debug_on = p.debug;
	debugf("init: %s process stage, pid %d: plan of %u bytes, %d args, %d env, %d fds", mode == PROCESS_CREATE ? "create" : "exec",
	       getpid(), len, p.argc, p.envc, nfds);

	if (p.root_fd >= 0) {
		// No pivot_root: the parent moved the rootfs onto "/", which our
		// root does not follow; this fd is on the moved mount.
		if (fchdir(p.root_fd) < 0 || chroot(".") < 0)
			bail_step("chroot", 0, errno);
		close(p.root_fd);
		debugf("init: chroot to the rootfs (no pivot_root)");
	}
	if (mode == PROCESS_CREATE && chdir("/") < 0)
		bail_step("chdir-root", 0, errno);
	if (p.keyring) {
		if (p.keylabel) {
			if (proc < 0)
				proc = open_proc();
			write_proc(proc, "self/attr/keycreate", p.keylabel, "keylabel", 0);
		}
		join_keyring(p.keyring);
		debugf("init: joined session keyring %s", p.keyring);
		if (p.keylabel) {
			// Back to the default for keyrings the process makes itself.
			int fd = open_proc_file(proc, "self/attr/keycreate", "keylabel", 1);
			if (write(fd, "", 0) < 0)
				bail_step("keylabel", 1, errno);
			close(fd);
		}
	}
	if (p.console == CONSOLE_FD) {
		take_terminal(p.console_fd);
		debugf("init: terminal from the parent is stdio and controlling tty");
	} else if (p.console == CONSOLE_NEW) {
		take_terminal(new_pty(&p));
		debugf("init: new pty is stdio and controlling tty");
	}
	// Every fd but stdio and the preserved ones closes at execve; ours too.
	if (syscall(SYS_close_range, 3 + p.preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		bail_step("close_range", 0, errno);

	for (int i = 0; i < p.nlsm; i++) {
		char path[64];
		snprintf(path, sizeof(path), "thread-self/%s", p.lsm[i].file);
		if (proc < 0)
			proc = open_proc();
		write_proc(proc, path, p.lsm[i].value, "lsm", p.lsm[i].kind);
		debugf("init: %s set to %s", path, p.lsm[i].value);
	}
	for (int i = 0; i < p.nrl; i++) {
		struct rlimit r = {p.rl[i].soft, p.rl[i].hard};
		if (setrlimit(p.rl[i].res, &r) < 0)
			bail_step("rlimit", p.rl[i].index, errno);
		debugf("init: rlimit %u set to %lu/%lu", p.rl[i].res, (unsigned long)p.rl[i].soft, (unsigned long)p.rl[i].hard);
	}
	if (p.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		bail_step("nnp", 0, errno);
	if (p.nnp)
		debugf("init: no_new_privs set");
	if (p.has_personality && syscall(SYS_personality, p.personality) < 0)
		bail_step("personality", 0, errno);
	if (p.has_sched && syscall(SYS_sched_setattr, 0, &p.sched, 0) < 0)
		bail_step("sched", 0, errno);
	if (p.has_ioprio && syscall(SYS_ioprio_set, 1, 0, p.ioprio) < 0)
		bail_step("ioprio", 0, errno);
	if (p.has_caps) {
		drop_bounding(&p);
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			bail_step("keepcaps", 0, errno);
		debugf("init: bounding set %#lx", (unsigned long)p.bnd);
	}
	// The cwd is entered while we are still root, as runc does: a user
	// without search permission on a directory on the way (a volume root
	// may reach) still starts there. Only a permission error is tried
	// again as the user, who may reach what root cannot (root squashing).
	int cwd_done = chdir(p.cwd) == 0;
	if (!cwd_done && errno != EACCES && errno != EPERM)
		bail_step("chdir", 0, errno);
	set_user(&p, &proc);
	debugf("init: uid %u, gid %u, %d supplementary groups", p.uid, p.gid, p.ngroups);
	if (!cwd_done && chdir(p.cwd) < 0)
		bail_step("chdir", 0, errno);
	debugf("init: cwd %s (entered as %s)", p.cwd, cwd_done ? "root" : "the user");
	// A leaked host fd as cwd (CVE-2024-21626) would leave us outside the
	// root: the kernel's getcwd then fails or answers "(unreachable)/...".
	// Checked before seccomp, which may deny getcwd.
	char wd[PATH_MAX];
	if (syscall(SYS_getcwd, wd, sizeof(wd)) < 0)
		bail_step("getcwd", 0, errno);
	if (wd[0] != '/')
		bail_detail("cwd-outside", 0, 0, wd);
	if (p.bpf && p.sc_when == SECCOMP_EARLY) {
		raise_permitted();
		seccomp_with_listener(&p);
		debugf("init: seccomp filter of %u instructions loaded before the capabilities (no no_new_privs)", p.bpf_len);
	}
	if (p.has_caps) {
		apply_caps(&p);
		debugf("init: capabilities effective %#lx, permitted %#lx, inheritable %#lx, ambient %#lx", (unsigned long)p.eff,
		       (unsigned long)p.prm, (unsigned long)p.inh, (unsigned long)p.amb);
	}
	mark(&p, "security");
	char *path = look_path(&p);
	mark(&p, "lookpath");
	debugf("init: %s resolves to %s", p.argv[0], path);
	if (p.bpf && p.sc_when == SECCOMP_READY) {
		seccomp_with_listener(&p);
		mark(&p, "seccomp");
		debugf("init: seccomp filter of %u instructions loaded, listener sent", p.bpf_len);
	}
	if (p.bpf && p.sc_when == SECCOMP_LAST)
		debugf("init: seccomp filter of %u instructions loads right before execve", p.bpf_len);
	debugf("init: ready; %s", mode == PROCESS_CREATE ? "waiting on exec.fifo for start" : "executing the process");

	static char ready[sizeof(spans) + sizeof(notes) + 64];
	snprintf(ready, sizeof(ready), "{\"type\":\"ready\",\"spans\":[%s],\"log\":[%.*s]}", spans, (int)notes_len, notes);
	write_frame(ready);
	if (mode == PROCESS_CREATE) {
		// Only once state.json records us may we wait on exec.fifo: EOF
		// here means the creator was killed, and an init nobody knows of
		// must not live on (proto's "commit").
		// Quietly: nobody is left to tell, and the container's stderr
		// is not the place for the runtime's death.
		char c;
		ssize_t n;
		do
			n = recv(sync_fd, &c, 1, MSG_PEEK);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			_exit(1);
		expect_frame("commit");
	}
	close(sync_fd);
	sync_fd = -1;

	if (mode == PROCESS_CREATE)
		wait_fifo(&p, proc);
	// The startContainer hooks run under the container's seccomp profile,
	// as in runc 1.4 (which loads it before the wait on exec.fifo).
	if (p.bpf && p.sc_when == SECCOMP_LAST) {
		int r = load_seccomp(&p);
		if (r < 0)
			late_fail("linux.seccomp: seccomp: load filter: seccomp: %s", go_strerror(-r));
	}
	if (p.nhooks > 0)
		run_start_hooks(p.hooks, p.nhooks, p.state_pre ? p.state_pre : "", p.state_post ? p.state_post : "", p.envp);
	umask(p.umask);
	final_attrs(&p);
	execve(path, p.argv, p.envp);
	// runc's words and status for a failed execve (its init prints the
	// error bare and exits 255): scripts match "exec /x: no such file or
	// directory" (a missing interpreter or loader), and the status.
	fprintf(stderr, "exec %s: %s\n", path, go_strerror(errno));
	_exit(255);
}
