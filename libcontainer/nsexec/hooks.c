// startContainer hooks, run by the C process stage inside the container
// after `ocirun start` and before execve, as libcontainer/hooks runs them
// for the Go init: each hook gets the state on stdin, exactly its own argv
// and env (the process's when it has none, as runc 1.4), its own process group (a timeout kills all of it), and its
// output, bounded, goes into the error.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"

#define MAX_OUTPUT 4096
#define WAIT_DELAY_MS 2000

struct output {
	char buf[MAX_OUTPUT + 1];
	size_t len;
	size_t dropped;
};

static void drain(int *fd, struct output *o)
{
	char tmp[4096];
	ssize_t n = read(*fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	size_t room = MAX_OUTPUT - o->len;
	size_t take = (size_t)n < room ? (size_t)n : room;
	memcpy(o->buf + o->len, tmp, take);
	o->len += take;
	o->dropped += n - take;
}

// trimmed is libcontainer/hooks' boundedBuffer.String: spaces trimmed, and
// how much was dropped.
static const char *trimmed(struct output *o, char *out, size_t n)
{
	o->buf[o->len] = 0;
	char *s = o->buf;
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	size_t l = strlen(s);
	while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\n' || s[l - 1] == '\t' || s[l - 1] == '\r'))
		l--;
	if (o->dropped)
		snprintf(out, n, "%.*s [%zu more bytes]", (int)l, s, o->dropped);
	else
		snprintf(out, n, "%.*s", (int)l, s);
	return out;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// quote is Go's %q for the printable ASCII a hook path has; anything else
// is escaped as \xNN.
static void quote(char *out, size_t n, const char *s)
{
	size_t j = 0;
	out[j++] = '"';
	for (; *s && j + 6 < n; s++) {
		unsigned char c = *s;
		if (c == '"' || c == '\\') {
			out[j++] = '\\';
			out[j++] = c;
		} else if (c < 0x20 || c >= 0x7f) {
			j += snprintf(out + j, n - j, "\\x%02x", c);
		} else {
			out[j++] = c;
		}
	}
	out[j++] = '"';
	out[j] = 0;
}

static void fail(int i, const struct hook *h, const char *what, struct output *out, struct output *err)
{
	char q[1024], text[MAX_OUTPUT + 64];
	const char *label = "";
	text[0] = 0;
	quote(q, sizeof(q), h->path);
	if (trimmed(err, text, sizeof(text))[0])
		label = ": stderr: ";
	else if (trimmed(out, text, sizeof(text))[0])
		label = ": stdout: ";
	fprintf(stderr, "ocirun: error running startContainer hook #%d: hooks.startContainer[%d] %s: %s%s%s\n", i, i, q, what, label, label[0] ? text : "");
	_exit(1);
}

static const char *go_errstr(int err, char *buf, size_t n)
{
	snprintf(buf, n, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] += 'a' - 'A';
	return buf;
}

static void run_hook(int i, const struct hook *h, const char *state, size_t state_len, char **env)
{
	int in[2], out[2], errp[2], execp[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(execp, O_CLOEXEC) < 0) {
		fprintf(stderr, "ocirun: error running startContainer hook #%d: hooks.startContainer[%d]: pipe: %s\n", i, i, strerror(errno));
		_exit(1);
	}
	pid_t pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid < 0) {
		fprintf(stderr, "ocirun: error running startContainer hook #%d: hooks.startContainer[%d]: fork: %s\n", i, i, strerror(errno));
		_exit(1);
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(127);
		char *argv0[] = {(char *)h->path, NULL};
		execve(h->path, h->argc ? h->argv : argv0, h->envp ? h->envp : env ? env : (char *[]){NULL});
		int e = errno;
		(void)!write(execp[1], &e, sizeof(e));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	close(execp[1]);
	int e;
	struct output o = {0}, eo = {0};
	if (read(execp[0], &e, sizeof(e)) == sizeof(e)) {
		char what[1200], eb[128];
		waitpid(pid, NULL, 0);
		snprintf(what, sizeof(what), "fork/exec %s: %s", h->path, go_errstr(e, eb, sizeof(eb)));
		fail(i, h, what, &o, &eo);
	}
	close(execp[0]);
	// A hook that ignores its stdin must not fail: SIGPIPE is ignored for
	// the write and back to the default before the user program runs.
	signal(SIGPIPE, SIG_IGN);
	for (size_t off = 0; off < state_len;) {
		ssize_t n = write(in[1], state + off, state_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	close(in[1]);
	signal(SIGPIPE, SIG_DFL);

	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	long deadline = h->timeout ? now_ms() + h->timeout * 1000L : -1, drain_until = -1;
	int fds[2] = {out[0], errp[0]}, exited = 0, status = 0;
	struct output *outs[2] = {&o, &eo};
	while (fds[0] >= 0 || fds[1] >= 0 || !exited) {
		long now = now_ms(), wait = -1;
		if (deadline >= 0 && !exited) {
			if (now >= deadline) {
				kill(-pid, SIGKILL);
				waitpid(pid, NULL, 0);
				char what[64];
				snprintf(what, sizeof(what), "timed out after %ds, killed", h->timeout);
				fail(i, h, what, &o, &eo);
			}
			wait = deadline - now;
		}
		if (drain_until >= 0) {
			// It exited but something it left behind holds the pipes.
			if (now >= drain_until)
				break;
			wait = drain_until - now;
		}
		struct pollfd p[3] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {exited ? -1 : pidfd, POLLIN, 0}};
		if (poll(p, 3, wait) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 2; k++)
			if (fds[k] >= 0 && (p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				drain(&fds[k], outs[k]);
		if (!exited && (pidfd < 0 || (p[2].revents & POLLIN))) {
			if (waitpid(pid, &status, pidfd < 0 ? 0 : WNOHANG) == pid) {
				exited = 1;
				drain_until = now_ms() + WAIT_DELAY_MS;
			}
		}
	}
	for (int k = 0; k < 2; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	if (pidfd >= 0)
		close(pidfd);
	char what[128];
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (WIFEXITED(status)) {
		snprintf(what, sizeof(what), "exit status %d", WEXITSTATUS(status));
	} else {
		char sb[128];
		snprintf(sb, sizeof(sb), "%s", strsignal(WTERMSIG(status)));
		if (sb[0] >= 'A' && sb[0] <= 'Z')
			sb[0] += 'a' - 'A';
		snprintf(what, sizeof(what), "signal: %s", sb);
	}
	fail(i, h, what, &o, &eo);
}

void run_start_hooks(const struct hook *hooks, int n, const char *pre, const char *post, char **env)
{
	size_t size = strlen(pre) + strlen(post) + 16;
	char *state = malloc(size);
	if (!state) {
		fprintf(stderr, "ocirun: hooks.startContainer: malloc: %s\n", strerror(errno));
		_exit(1);
	}
	int len = snprintf(state, size, "%s%d%s", pre, getpid(), post);
	for (int i = 0; i < n; i++)
		run_hook(i, &hooks[i], state, len, env);
}
