/* vici_client.c - the VICI socket: a stream of length-prefixed packets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "ipsec/vici_client.h"

int vici_connect(struct vici_conn *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int e;

	*c = (struct vici_conn){ .fd = -1, .in = { .max = 4 * VICI_PACKET_MAX } };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "connect to %s: the path is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		snprintf(err, errlen, "connect to %s: %s", path, strerror(e));
		vici_disconnect(c);
		return -e;
	}
	return 0;
}

void vici_disconnect(struct vici_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int broken(struct vici_conn *c, char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "%s charon's VICI socket: %s", what, strerror(e));
	vici_disconnect(c);
	return -1;
}

static int send_all(struct vici_conn *c, const char *p, size_t n, int64_t deadline, char *err,
		    size_t errlen)
{
	while (n) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
		struct pollfd pf = { .fd = c->fd, .events = POLLOUT };

		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno != EAGAIN)
			return broken(c, err, errlen, "write to", errno);
		if (now_ms() >= deadline || poll(&pf, 1, (int)(deadline - now_ms())) == 0)
			return broken(c, err, errlen, "write to", ETIMEDOUT);
	}
	return 0;
}

/* One whole packet from the buffer into m: 1, 0 (not yet), -1. */
static int take_packet(struct vici_conn *c, struct vici_msg *m, char *err, size_t errlen)
{
	const uint8_t *p = (const uint8_t *)c->in.data;
	char why[200];
	size_t n;
	int rc;

	if (c->in.len < 4)
		return 0;
	n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (n == 0 || n > VICI_PACKET_MAX) {
		snprintf(err, errlen, "read from charon's VICI socket: a packet of %zu bytes", n);
		vici_disconnect(c);
		return -1;
	}
	if (c->in.len < n + 4)
		return 0;
	rc = vici_decode(p + 4, n, m, why, sizeof(why));
	buf_drop(&c->in, n + 4);
	if (rc < 0) {
		snprintf(err, errlen, "read from charon's VICI socket: %s", why);
		vici_disconnect(c);
		return -1;
	}
	return 1;
}

/* Read what is there: 0, or -1 (EOF or an error; err set). */
static int fill(struct vici_conn *c, char *err, size_t errlen)
{
	for (;;) {
		ssize_t k;

		/* Enough for whole packets: let the caller take them first. */
		if (c->in.len >= 2 * VICI_PACKET_MAX)
			return 0;
		if (buf_reserve(&c->in, 65536) < 0 && buf_reserve(&c->in, 4096) < 0)
			return broken(c, err, errlen, "read from", errno);
		k = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1);
		if (k > 0) {
			buf_commit(&c->in, (size_t)k);
			continue;
		}
		if (k == 0)
			return broken(c, err, errlen, "read from", ECONNRESET);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return broken(c, err, errlen, "read from", errno);
	}
}

int vici_poll(struct vici_conn *c, struct vici_msg *m, char *err, size_t errlen)
{
	int rc;

	if (c->fd < 0) {
		snprintf(err, errlen, "charon's VICI socket is not connected");
		return -1;
	}
	rc = take_packet(c, m, err, errlen);
	if (rc != 0)
		return rc;
	if (fill(c, err, errlen) < 0)
		return -1;
	return take_packet(c, m, err, errlen);
}

/* The next packet within the deadline. */
static int next_packet(struct vici_conn *c, struct vici_msg *m, int64_t deadline, char *err,
		       size_t errlen)
{
	for (;;) {
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		int rc = vici_poll(c, m, err, errlen);
		int64_t left = deadline - now_ms();

		if (rc != 0)
			return rc;
		if (left <= 0 || poll(&pf, 1, (int)left) == 0)
			return broken(c, err, errlen, "wait for an answer on", ETIMEDOUT);
	}
}

static int send_named(struct vici_conn *c, enum vici_type type, const char *name,
		      int64_t deadline, char *err, size_t errlen)
{
	struct vici_builder w;
	const char *p;
	size_t n;
	int rc;

	vici_begin(&w, type, name);
	if (vici_finish(&w, &p, &n) < 0) {
		snprintf(err, errlen, "build a VICI packet for %s: out of memory or a bad name",
			 name);
		vici_builder_free(&w);
		return -1;
	}
	rc = send_all(c, p, n, deadline, err, errlen);
	vici_builder_free(&w);
	return rc;
}

/* Register or unregister name and wait for the confirmation. */
static int event_reg(struct vici_conn *c, enum vici_type type, const char *name,
		     int64_t deadline, char *err, size_t errlen)
{
	struct vici_msg m;

	if (send_named(c, type, name, deadline, err, errlen) < 0)
		return -1;
	for (;;) {
		if (next_packet(c, &m, deadline, err, errlen) < 0)
			return -1;
		if (m.type == VICI_EVENT) {
			vici_msg_free(&m);
			continue; /* an event of an earlier registration */
		}
		if (m.type == VICI_EVENT_CONFIRM) {
			vici_msg_free(&m);
			return 0;
		}
		snprintf(err, errlen, "charon refused the registration for the event %s (%s)",
			 name, m.type == VICI_EVENT_UNKNOWN ? "unknown event" : "unexpected answer");
		vici_msg_free(&m);
		vici_disconnect(c);
		return -1;
	}
}

int vici_listen(struct vici_conn *c, const char *name, int timeout_ms, char *err, size_t errlen)
{
	return event_reg(c, VICI_EVENT_REGISTER, name, now_ms() + timeout_ms, err, errlen);
}

int vici_call(struct vici_conn *c, const char *cmd, struct vici_builder *w, const char *stream,
	      vici_event_fn fn, void *arg, struct vici_msg *resp, int timeout_ms, char *err,
	      size_t errlen)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct vici_builder empty;
	const char *p;
	size_t n;
	int rc;

	*resp = (struct vici_msg){ 0 };
	if (c->fd < 0) {
		snprintf(err, errlen, "charon's VICI socket is not connected");
		return -1;
	}
	if (!w) {
		vici_begin(&empty, VICI_CMD_REQUEST, cmd);
		w = &empty;
	}
	if (vici_finish(w, &p, &n) < 0) {
		snprintf(err, errlen, "build the VICI request %s: a name or value too long, "
			 "or out of memory", cmd);
		if (w == &empty)
			vici_builder_free(&empty);
		return -1;
	}
	if (stream && event_reg(c, VICI_EVENT_REGISTER, stream, deadline, err, errlen) < 0)
		goto fail;
	if (send_all(c, p, n, deadline, err, errlen) < 0)
		goto fail;
	for (;;) {
		if (next_packet(c, resp, deadline, err, errlen) < 0)
			goto fail;
		if (resp->type == VICI_CMD_RESPONSE)
			break;
		if (resp->type == VICI_CMD_UNKNOWN) {
			snprintf(err, errlen, "charon does not know the VICI command %s", cmd);
			vici_msg_free(resp);
			goto fail;
		}
		if (resp->type == VICI_EVENT && stream && fn && strcmp(resp->name, stream) == 0 &&
		    fn(arg, resp) < 0) {
			snprintf(err, errlen, "handle the answer to %s: out of memory", cmd);
			vici_msg_free(resp);
			vici_disconnect(c);
			goto fail;
		}
		vici_msg_free(resp);
	}
	if (stream && event_reg(c, VICI_EVENT_UNREGISTER, stream, deadline, err, errlen) < 0) {
		vici_msg_free(resp);
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	if (w == &empty)
		vici_builder_free(&empty);
	return rc;
}
