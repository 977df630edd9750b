// `ocirun start` of a plain created container, done before the Go runtime
// starts. start is half of the commands containerd and podman run per
// container, and its own work (a lock, a check, a fifo read) is a small part
// of what starting a Go process costs (runtime and package init, threads).
//
// create leaves start.plan in the state dir when start needs nothing but
// that work: no poststart hooks, no notify socket. Anything this file does
// not recognise (another flag, no plan, an id Go would refuse, a container
// that is not created) makes it return before it has changed anything, and
// the Go CLI does the command and words its errors. Only once exec.fifo is
// open, which lets init go on, are failures reported from here.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "nsexec.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct start_opts {
	const char *root, *log, *format, *id;
};

static int flag_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncmp(name, want, n) == 0;
}

// clean_root: a --root that Go's filepath.Join would not change in meaning.
// Join removes "." and ".." lexically, where the kernel follows a symlink
// before "..": such a root is left to Go.
static int clean_root(const char *root)
{
	if (!*root)
		return 0;
	for (const char *p = root; *p;) {
		const char *end = strchrnul(p, '/');
		size_t n = end - p;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p = *end ? end + 1 : end;
	}
	return 1;
}

// parse_start accepts `[global flags] start ID` with the global flags that
// do not change what start does; 0 when it is that command.
static int parse_start(int argc, char **argv, struct start_opts *o)
{
	int i = 1;
	for (; i < argc && strcmp(argv[i], "start") != 0; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0)
			return -1;
		const char *name = a + 2, *val = strchr(name, '=');
		size_t n = val ? (size_t)(val - name) : strlen(name);
		if (val)
			val++;
		if (flag_is(name, n, "systemd-cgroup") && !val)
			continue;
		if (!flag_is(name, n, "root") && !flag_is(name, n, "log") && !flag_is(name, n, "log-format") &&
		    !flag_is(name, n, "rootless") && !flag_is(name, n, "criu"))
			return -1; // --debug, --trace, --help, --version, ...
		if (!val) {
			if (++i >= argc)
				return -1;
			val = argv[i];
		}
		if (flag_is(name, n, "root"))
			o->root = val;
		else if (flag_is(name, n, "log"))
			o->log = val;
		else if (flag_is(name, n, "log-format"))
			o->format = val;
		else if (flag_is(name, n, "rootless") && strcmp(val, "auto") && strcmp(val, "true") && strcmp(val, "false"))
			return -1;
	}
	if (i + 2 != argc)
		return -1;
	o->id = argv[i + 1];
	if (strcmp(o->format, "text") && strcmp(o->format, "json"))
		return -1;
	if (o->root && !clean_root(o->root))
		return -1;
	// specconv.ValidateID's rule.
	size_t len = strlen(o->id);
	if (len == 0 || len > 1024 || !strcmp(o->id, ".") || !strcmp(o->id, ".."))
		return -1;
	for (size_t k = 0; k < len; k++) {
		char c = o->id[k];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (k == 0 || (c != '_' && c != '+' && c != '.' && c != '-')))
			return -1;
	}
	if (!o->root) {
		// defaultRoot: $XDG_RUNTIME_DIR/ocirun is Go's decision to make.
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		if (geteuid() != 0 || (xdg && *xdg))
			return -1;
		o->root = "/run/ocirun";
	}
	const char *trace = getenv("OCIRUN_TRACE");
	return trace && *trace ? -1 : 0;
}

// proc_start returns field 22 (start time) of /proc/pid/stat, 0 for a pid
// that is gone, a zombie or unreadable.
static unsigned long long proc_start(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return 0;
	p += 2; // field 3
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

static int log_fd = -1;
static const char *log_format;

// start_fail reports msg as the Go CLI's fail does: on stderr, and as one
// error line in the log file in its format; then exits 1.
static void start_fail(const char *fmt, ...)
{
	char msg[512], quoted[1024], line[1200], ts[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(2, "ocirun: %s\n", msg);
	if (log_fd >= 0) {
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		size_t k = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(ts + k, sizeof(ts) - k, ".%09ldZ", now.tv_nsec);
		// JSON's escapes also read as a quoted value of slog's text format;
		// the message may hold the --root the caller gave.
		json_escape(quoted, sizeof(quoted), msg);
		if (!strcmp(log_format, "json"))
			snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"error\",\"msg\":\"%s\"}\n", ts, quoted);
		else
			snprintf(line, sizeof(line), "time=%s level=error msg=\"%s\"\n", ts, quoted);
		if (write(log_fd, line, strlen(line)) < 0) {
			// Nothing more to tell anyone.
		}
	}
	_exit(1);
}

static int wait_in(int fifo, int pidfd, int ms)
{
	struct pollfd fds[2] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
	if (poll(fds, 2, ms) < 0 && errno != EINTR)
		start_fail("poll: %s", strerror(errno));
	return (fds[1].revents & POLLIN) && !(fds[0].revents & POLLIN);
}

// release is Container.openFifo and waitExec: read init's byte, remove the
// fifo, wait for init's execve (EOF) or its death.
static void release(int dfd, const char *dir, int fifo, int pidfd)
{
	char c;
	time_t deadline = time(NULL) + 60;
	for (;;) {
		if (time(NULL) > deadline)
			start_fail("timed out waiting for container init to reach exec.fifo");
		ssize_t n = read(fifo, &c, 1);
		if (n == 1)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			start_fail("read exec fifo: %s", strerror(errno));
		if (wait_in(fifo, pidfd, 1)) {
			if (read(fifo, &c, 1) == 1)
				break;
			start_fail("container init exited before start");
		}
	}
	if (unlinkat(dfd, "exec.fifo", 0) < 0)
		start_fail("remove %s/exec.fifo: %s", dir, strerror(errno));
	deadline = time(NULL) + 60;
	for (;;) {
		if (time(NULL) > deadline)
			start_fail("timed out waiting for the container process to start");
		ssize_t n = read(fifo, &c, 1);
		if (n == 0)
			return;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			start_fail("read exec fifo: %s", strerror(errno));
		if (wait_in(fifo, pidfd, 100))
			return;
	}
}

void ocirun_fast_start(int argc, char **argv)
{
	struct start_opts o = {.format = "text"};
	if (argc < 3 || parse_start(argc, argv, &o) < 0)
		return;
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", o.root, o.id) >= sizeof(dir))
		return;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	int fifo = -1, pidfd = -1, planfd = -1;
	// Unlocked first: most containers without a plan never wait for a lock.
	struct stat fi;
	if (fstatat(dfd, START_PLAN, &fi, AT_SYMLINK_NOFOLLOW) < 0)
		goto fallback;
	while (flock(dfd, LOCK_EX) < 0)
		if (errno != EINTR)
			goto fallback;
	// Whoever held the lock may have removed the dir (state.LockDir).
	struct stat locked, now;
	if (fstat(dfd, &locked) < 0 || stat(dir, &now) < 0 || locked.st_dev != now.st_dev || locked.st_ino != now.st_ino)
		goto fallback;
	planfd = openat(dfd, START_PLAN, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (planfd < 0)
		goto fallback;
	char plan[64];
	ssize_t n = read(planfd, plan, sizeof(plan) - 1);
	if (n <= 0)
		goto fallback;
	plan[n] = 0;
	int pid;
	unsigned long long start;
	if (sscanf(plan, "%d %llu", &pid, &start) != 2 || pid <= 0)
		goto fallback;
	// Created: init alive with its start time, and exec.fifo there.
	if (proc_start(pid) != start || fstatat(dfd, "exec.fifo", &fi, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISFIFO(fi.st_mode))
		goto fallback;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || proc_start(pid) != start)
		goto fallback;
	if (o.log) {
		log_fd = open(o.log, O_CREAT | O_WRONLY | O_APPEND | O_SYNC | O_CLOEXEC, 0644);
		if (log_fd < 0)
			goto fallback;
		log_format = o.format;
	}
	// From here on init goes on: no return to Go.
	fifo = openat(dfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0)
		goto fallback;
	release(dfd, dir, fifo, pidfd);
	_exit(0);

fallback:
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	if (pidfd >= 0)
		close(pidfd);
	if (planfd >= 0)
		close(planfd);
	close(dfd); // and the lock with it
}
