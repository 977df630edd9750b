// The init end of the parent's socketpair, shared by the namespace stage and
// the process stage: length-prefixed frames, fds with SCM_RIGHTS, and error
// reports the parent turns into the error the user sees.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nsexec.h"

int sync_fd = -1;

void json_escape(char *out, size_t outlen, const char *s)
{
	size_t j = 0;
	for (size_t i = 0; s[i] && j + 7 < outlen; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			out[j++] = '\\';
			out[j++] = c;
		} else if (c < 0x20) {
			j += snprintf(out + j, outlen - j, "\\u%04x", c);
		} else {
			out[j++] = c;
		}
	}
	out[j] = 0;
}

void bail(const char *fmt, ...)
{
	char msg[1024], esc[2100], frame[2200];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (saved)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), ": %s", strerror(saved));
	json_escape(esc, sizeof(esc), msg);
	snprintf(frame, sizeof(frame), "{\"type\":\"error\",\"msg\":\"nsexec: %s\"}", esc);
	if (sync_fd >= 0)
		write_frame(frame);
	else
		fprintf(stderr, "ocirun init: nsexec: %s\n", msg);
	_exit(1);
}

// bail_detail reports a failed step of the plan by name, index, errno and
// an optional detail (a path): the parent words it from the config, exactly
// as the Go init would have.
void bail_detail(const char *step, long arg, int err, const char *detail)
{
	char esc[PATH_MAX * 2], frame[PATH_MAX * 2 + 256];
	json_escape(esc, sizeof(esc), detail ? detail : "");
	snprintf(frame, sizeof(frame), "{\"type\":\"error\",\"step\":\"%s\",\"arg\":%ld,\"errno\":%d,\"detail\":\"%s\"}",
		 step, arg, err, esc);
	if (sync_fd >= 0) {
		int fd = sync_fd;
		sync_fd = -1; // a failed write must not recurse into bail
		uint32_t len = strlen(frame);
		struct iovec iov[2] = {{&len, 4}, {frame, len}};
		(void)!writev(fd, iov, 2);
	}
	_exit(1);
}

void bail_step(const char *step, long arg, int err)
{
	bail_detail(step, arg, err, NULL);
}

static void read_full(int fd, void *buf, size_t len, int *fds, int *nfds, int maxfds)
{
	char *p = buf;
	while (len > 0) {
		struct iovec iov = {p, len};
		union {
			char buf[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr align;
		} cbuf;
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf)};
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			bail("read from parent");
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int *in = (int *)CMSG_DATA(c);
			for (int i = 0; i < k; i++) {
				if (fds && *nfds < maxfds)
					fds[(*nfds)++] = in[i];
				else
					close(in[i]);
			}
		}
		if (msg.msg_flags & MSG_CTRUNC) {
			errno = 0;
			bail("too many fds from parent");
		}
		p += n;
		len -= n;
	}
}

void write_frame_fds(const char *json, const int *fds, int nfds)
{
	uint32_t len = strlen(json);
	char hdr[4];
	memcpy(hdr, &len, 4);
	struct iovec iov[2] = {{hdr, 4}, {(void *)json, len}};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	if (nfds > 0) {
		if (nfds > 8) {
			errno = 0;
			bail("%d fds in one frame", nfds);
		}
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	size_t total = 4 + len;
	while (total > 0) {
		ssize_t n = sendmsg(sync_fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sync_fd = -1;
			bail("write to parent");
		}
		total -= n;
		// The fds went with the first bytes; what is left of the iovecs goes alone.
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		while (n > 0 && msg.msg_iovlen > 0) {
			size_t take = (size_t)n < msg.msg_iov->iov_len ? (size_t)n : msg.msg_iov->iov_len;
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + take;
			msg.msg_iov->iov_len -= take;
			n -= take;
			if (msg.msg_iov->iov_len == 0) {
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
}

void write_frame(const char *json)
{
	write_frame_fds(json, NULL, 0);
}

// read_frame returns a malloc'd payload of at most max bytes (NUL-terminated
// for convenience) and the fds that came with it.
char *read_frame(uint32_t *lenp, uint32_t max, int *fds, int *nfds, int maxfds)
{
	uint32_t len;
	if (nfds)
		*nfds = 0;
	read_full(sync_fd, &len, 4, fds, nfds, maxfds);
	if (len > max) {
		errno = 0;
		bail("frame of %u bytes exceeds %u", len, max);
	}
	char *buf = malloc(len + 1);
	if (!buf)
		bail("malloc");
	read_full(sync_fd, buf, len, fds, nfds, maxfds);
	buf[len] = 0;
	*lenp = len;
	return buf;
}

void expect_frame(const char *type)
{
	uint32_t len;
	char want[64];
	char *buf = read_frame(&len, 4096, NULL, NULL, 0);
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	if (!strstr(buf, want)) {
		errno = 0;
		bail("expected %s from parent, got %.200s", type, buf);
	}
	free(buf);
}
