// The namespace stage of `ocirun init`. It runs as an ELF constructor, before the
// Go runtime starts any thread, because a multithreaded process can neither join a
// user namespace nor setns into a mount namespace, and unshare(CLONE_NEWPID) or
// CLONE_NEWTIME only apply to children, which must be forked while we are alone.
// Keep it to what needs a single thread; everything else is done in Go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsexec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int sync_fd = -1;

// bail reports err to the parent as a protocol error frame and exits. The parent
// shows the message; nothing else reads our stderr reliably at this point.
static void bail(const char *fmt, ...)
{
	char msg[1024], frame[1200];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (saved)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ": %s", strerror(saved));
	// JSON-escape only what our own messages can contain: quotes and backslashes.
	char esc[2100];
	size_t j = 0;
	for (size_t i = 0; msg[i] && j < sizeof(esc) - 2; i++) {
		if (msg[i] == '"' || msg[i] == '\\')
			esc[j++] = '\\';
		esc[j++] = (msg[i] == '\n') ? ' ' : msg[i];
	}
	esc[j] = 0;
	int n = snprintf(frame + 4, sizeof(frame) - 4, "{\"type\":\"error\",\"msg\":\"nsexec: %s\"}", esc);
	if (n > (int)sizeof(frame) - 4)
		n = sizeof(frame) - 4;
	uint32_t len = n;
	memcpy(frame, &len, 4);
	if (sync_fd >= 0)
		(void)!write(sync_fd, frame, 4 + n);
	_exit(1);
}

static void read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			bail("read from parent");
		}
		p += n;
		len -= n;
	}
}

static void write_frame(const char *json)
{
	uint32_t len = strlen(json);
	char buf[256];
	if (len > sizeof(buf) - 4)
		bail("frame too long");
	memcpy(buf, &len, 4);
	memcpy(buf + 4, json, len);
	size_t off = 0, total = 4 + len;
	while (off < total) {
		ssize_t n = write(sync_fd, buf + off, total - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			bail("write to parent");
		off += n;
	}
}

// read_frame returns a malloc'd payload of at most max bytes.
static char *read_frame(uint32_t *lenp, uint32_t max)
{
	uint32_t len;
	read_full(sync_fd, &len, 4);
	if (len > max) {
		errno = 0;
		bail("frame of %u bytes exceeds %u", len, max);
	}
	char *buf = malloc(len + 1);
	if (!buf)
		bail("malloc");
	read_full(sync_fd, buf, len);
	buf[len] = 0;
	*lenp = len;
	return buf;
}

static void expect_frame(const char *type)
{
	uint32_t len;
	char want[64];
	char *buf = read_frame(&len, 4096);
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	if (!strstr(buf, want)) {
		errno = 0;
		bail("expected %s from parent, got %.200s", type, buf);
	}
	free(buf);
}

struct nspath {
	uint32_t flag;
	int fd;
	const char *path;
};

static const char *ns_name(uint32_t flag)
{
	switch (flag) {
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWNS: return "mount";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWNET: return "network";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWCGROUP: return "cgroup";
	case CLONE_NEWTIME: return "time";
	}
	return "unknown";
}

// join_namespaces joins every namespace given by path. All paths are opened first:
// joining the mount namespace changes what later paths mean. Namespaces other than
// user are joined first while we still hold the host's privileges, then the user
// namespace, then whatever failed with EPERM because it is owned by that user ns.
static void join_namespaces(struct nspath *ns, int n)
{
	for (int i = 0; i < n; i++) {
		ns[i].fd = open(ns[i].path, O_RDONLY | O_CLOEXEC);
		if (ns[i].fd < 0)
			bail("open %s namespace %s", ns_name(ns[i].flag), ns[i].path);
	}
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < n; i++) {
			if (ns[i].fd < 0)
				continue;
			int is_user = ns[i].flag == CLONE_NEWUSER;
			if ((pass == 1) != is_user)
				continue;
			if (setns(ns[i].fd, ns[i].flag) < 0) {
				if (pass == 0 && errno == EPERM)
					continue;
				bail("setns %s namespace %s", ns_name(ns[i].flag), ns[i].path);
			}
			close(ns[i].fd);
			ns[i].fd = -1;
		}
	}
}

void ocirun_nsexec(void)
{
	const char *env = getenv("_OCIRUN_INITPIPE");
	if (!env || !*env)
		return;
	// Nothing in the container may ptrace us or read our memory while we still
	// hold host resources; init becomes dumpable again only at execve.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("prctl(PR_SET_DUMPABLE)");
	sync_fd = atoi(env);
	if (sync_fd < 3)
		bail("bad _OCIRUN_INITPIPE %s", env);

	uint32_t len;
	char *boot = read_frame(&len, BOOT_MAX);
	uint32_t clone_flags = 0;
	int fork_child = 0;
	struct nspath ns[16];
	int nns = 0;
	const char *timens_offsets = NULL;
	uint32_t toff_len = 0;

	for (uint32_t off = 0; off < len;) {
		if (len - off < 8) {
			errno = 0;
			bail("truncated bootstrap record at %u", off);
		}
		uint16_t type;
		uint32_t rlen;
		memcpy(&type, boot + off, 2);
		memcpy(&rlen, boot + off + 4, 4);
		off += 8;
		if (rlen > len - off) {
			errno = 0;
			bail("bootstrap record %u of %u bytes overflows", type, rlen);
		}
		char *data = boot + off;
		off += rlen;
		switch (type) {
		case BOOT_CLONE_FLAGS:
			if (rlen != 4)
				goto badlen;
			memcpy(&clone_flags, data, 4);
			break;
		case BOOT_NS_PATH:
			if (rlen < 5 || nns >= 16)
				goto badlen;
			memcpy(&ns[nns].flag, data, 4);
			// The record is not NUL-terminated: terminate in place, which eats the
			// next record's first byte, so copy the path out first.
			{
				char *p = strndup(data + 4, rlen - 4);
				if (!p || strlen(p) != rlen - 4)
					goto badlen;
				ns[nns].path = p;
			}
			nns++;
			break;
		case BOOT_TIME_OFFSETS:
			timens_offsets = data;
			toff_len = rlen;
			break;
		case BOOT_FORK:
			fork_child = 1;
			break;
		default:
			errno = 0;
			bail("unknown bootstrap record type %u", type);
		}
		continue;
badlen:
		errno = 0;
		bail("bad bootstrap record type %u length %u", type, rlen);
	}

	// Opened now, in the runtime's own mount namespace: after a setns into a
	// mount namespace given by path, /proc could be a fake tree that its
	// container mounted, and the offsets would land in a dummy file. The fd
	// stays bound to this task, and the write is checked against the
	// opener's (our host) credentials.
	int toff_fd = -1;
	if (timens_offsets && toff_len > 0) {
		toff_fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (toff_fd < 0)
			bail("open /proc/self/timens_offsets");
	}
	if (nns > 0)
		join_namespaces(ns, nns);

	if (clone_flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail("unshare user namespace");
		// Only the parent, outside, may write our id maps.
		write_frame("{\"type\":\"idmap-please\"}");
		expect_frame("idmap-done");
		if (setresgid(0, 0, 0) < 0)
			bail("setresgid(0) in the new user namespace");
		if (setresuid(0, 0, 0) < 0)
			bail("setresuid(0) in the new user namespace");
		// setresuid clears the dumpable flag again only for uid changes; keep it off.
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	uint32_t rest = clone_flags & ~CLONE_NEWUSER;
	if (rest && unshare(rest) < 0)
		bail("unshare namespaces 0x%x", rest);
	if (toff_fd >= 0) {
		char *buf = strndup(timens_offsets, toff_len);
		if (!buf)
			bail("strndup");
		size_t n = strlen(buf);
		if (write(toff_fd, buf, n) != (ssize_t)n)
			bail("write /proc/self/timens_offsets");
		free(buf);
		close(toff_fd);
	}
	free(boot);

	if (!fork_child) {
		write_frame("{\"type\":\"child\",\"pid\":0}");
		return;
	}
	// A new (or joined) pid or time namespace only applies to our children: fork
	// the real init and let this process report its pid and go away.
	// CLONE_PARENT makes the init a child of the ocirun parent, not an orphan:
	// `run` and `exec` wait for it directly, and a joined pid namespace's own
	// init never inherits it as an unreaped zombie.
	pid_t child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		bail("fork init");
	if (child == 0)
		return;
	char msg[64];
	snprintf(msg, sizeof(msg), "{\"type\":\"child\",\"pid\":%d}", child);
	write_frame(msg);
	_exit(0);
}
