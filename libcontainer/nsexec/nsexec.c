// The namespace stage of `ocirun init`. It runs as an ELF constructor, before the
// Go runtime starts any thread, because a multithreaded process can neither join a
// user namespace nor setns into a mount namespace, and unshare(CLONE_NEWPID) or
// CLONE_NEWTIME only apply to children, which must be forked while we are alone.
// Keep it to what needs a single thread; the rest is the process stage
// (process.c) when the parent sends a plan, or Go when it does not.
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

// join_cgroups moves us into the container's cgroup v1 hierarchies: fds is a
// list of `tasks` files the parent opened. Writing "0" moves only the
// calling thread, so the kernel skips the global threadgroup lock that a
// move by pid takes, whose first writer after a quiet spell waits out an RCU
// grace period (1-7 ms). We are still single-threaded: the thread is the
// process, and whatever we fork from here on is born inside.
static void join_cgroups(const char *fds)
{
	const char *p = fds;
	while (*p) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p || fd < 3 || (*end && *end != ','))
			bail("bad _OCIRUN_CGROUP_TASKS %s", fds);
		if (write(fd, "0", 1) != 1)
			bail("join the container's cgroup (tasks fd %ld)", fd);
		close(fd);
		p = *end ? end + 1 : end;
	}
}

void ocirun_nsexec(void)
{
	// A process that only holds a user namespace for an idmapped mount
	// (idmap.go, newUserNS): its parent set the maps and opened the
	// namespace; it exits when the parent closes its stdin.
	if (getenv("_OCIRUN_USERNS_HOLD")) {
		char c;
		while (read(0, &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
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
	const char *tasks = getenv("_OCIRUN_CGROUP_TASKS");
	if (tasks)
		join_cgroups(tasks);

	uint32_t len;
	char *boot = read_frame(&len, BOOT_MAX, NULL, NULL, 0);
	uint32_t clone_flags = 0;
	int fork_child = 0;
	struct nspath ns[16];
	int nns = 0;
	const char *timens_offsets = NULL;
	uint32_t toff_len = 0;
	uint32_t process_mode = 0, proc_contexts = 0;
	int idmap_dumpable = 0;

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
		case BOOT_PROCESS:
			if (rlen != 4)
				goto badlen;
			memcpy(&process_mode, data, 4);
			if (process_mode != PROCESS_CREATE && process_mode != PROCESS_EXEC)
				goto badlen;
			break;
		case BOOT_IDMAP_DUMPABLE:
			idmap_dumpable = 1;
			break;
		case BOOT_PROC_CONTEXTS:
			if (rlen != 4)
				goto badlen;
			memcpy(&proc_contexts, data, 4);
			if (proc_contexts > 4)
				goto badlen;
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
	int joined_user = 0;
	for (int i = 0; i < nns; i++)
		joined_user |= ns[i].flag == CLONE_NEWUSER;
	if (nns > 0)
		join_namespaces(ns, nns);

	if (clone_flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail("unshare user namespace");
		if (idmap_dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			bail("prctl(PR_SET_DUMPABLE)");
		// Only the parent, outside, may write our id maps.
		write_frame("{\"type\":\"idmap-please\"}");
		expect_frame("idmap-done");
		if (idmap_dumpable && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			bail("prctl(PR_SET_DUMPABLE)");
	}
	if ((clone_flags & CLONE_NEWUSER) || joined_user) {
		// Become the user namespace's root: our host ids may not be mapped in
		// it (a joined one), and what we create next (mountpoints, a tmpfs's
		// files) must belong to an id it knows. The capabilities setns or
		// unshare gave us stay: our old ids were not this namespace's root.
		if (setresgid(0, 0, 0) < 0)
			bail("setresgid(0) in the user namespace");
		if (setresuid(0, 0, 0) < 0)
			bail("setresuid(0) in the user namespace");
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
		if (process_mode)
			ocirun_process(process_mode, proc_contexts);
		return;
	}
	// A new (or joined) pid or time namespace only applies to our children: fork
	// the real init and let this process report its pid and go away.
	// CLONE_PARENT makes the init a child of the ocirun parent, not an orphan:
	// `run` and `exec` wait for it directly, and a joined pid namespace's own
	// init never inherits it as an unreaped zombie.
	// The process stage writes to the socket too: it waits for EOF on this
	// pipe, which comes when the "child" frame is out, so frames stay in order.
	int order[2] = {-1, -1};
	if (process_mode && pipe2(order, O_CLOEXEC) < 0)
		bail("pipe");
	pid_t child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		bail("fork init");
	if (child == 0) {
		if (process_mode) {
			char c;
			close(order[1]);
			while (read(order[0], &c, 1) < 0 && errno == EINTR)
				;
			close(order[0]);
			ocirun_process(process_mode, proc_contexts);
		}
		return;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "{\"type\":\"child\",\"pid\":%d}", child);
	write_frame(msg);
	_exit(0);
}
