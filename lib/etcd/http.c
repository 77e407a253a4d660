/* http.c - connections for the HTTP/1.1 client: non-blocking connect with a
 * deadline, one kept-alive socket per endpoint, POST, streaming reads. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "etcd/http.h"

struct http_conn {
	char *host;      /* without the brackets of an IPv6 literal */
	char *hostport;  /* the Host header */
	char *base;      /* the URL's path, without a trailing slash */
	char port[8];
	long timeout_ms;
	int fd;
	bool reused;     /* the socket carried a request already */
	bool sent_reused; /* ...before the current request */
	bool pending;    /* a request sent, its answer not read */
	bool got_bytes;  /* the current answer has started */
	struct http_parser p;
};

time_t http_conn_date(const struct http_conn *c)
{
	return c->p.date;
}

static void set_err(char *err, size_t errlen, const char *cause, int e)
{
	snprintf(err, errlen, "%s%s%s", cause, e ? ": " : "", e ? strerror(e) : "");
}

static int split_host(struct http_conn *c, const char *hp, size_t n, char *err, size_t errlen)
{
	const char *colon, *end = hp + n;
	size_t hlen;

	if (n && hp[0] == '[') {
		const char *rb = memchr(hp, ']', n);

		if (!rb || rb == hp + 1 || (rb + 1 < end && rb[1] != ':'))
			goto bad;
		colon = rb + 1 < end ? rb + 1 : NULL;
		hp++;
		hlen = (size_t)(rb - hp);
	} else {
		colon = memchr(hp, ':', n);
		hlen = colon ? (size_t)(colon - hp) : n;
	}
	if (!hlen || (colon && (colon + 1 == end || (size_t)(end - colon - 1) >= sizeof(c->port) ||
				strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1))))
		goto bad;
	if (colon)
		memcpy(c->port, colon + 1, (size_t)(end - colon - 1));
	else
		memcpy(c->port, "80", 3);
	c->host = fl_strndup(hp, hlen);
	return c->host ? HTTP_OK : HTTP_ERR_NOMEM;
bad:
	snprintf(err, errlen, "bad host and port in the URL");
	return HTTP_ERR_USAGE;
}

int http_conn_new(const char *url, long timeout_ms, struct http_conn **out, char *err,
		  size_t errlen)
{
	struct http_conn *c;
	const char *hp, *slash;
	size_t n, blen;
	int rc;

	*out = NULL;
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "not an http:// URL");
		return HTTP_ERR_USAGE;
	}
	hp = url + 7;
	slash = strchr(hp, '/');
	n = slash ? (size_t)(slash - hp) : strlen(hp);
	c = fl_calloc(1, sizeof(*c));
	if (!c)
		return HTTP_ERR_NOMEM;
	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	rc = split_host(c, hp, n, err, errlen);
	if (rc != HTTP_OK)
		goto fail;
	blen = slash ? strlen(slash) : 0;
	while (blen && slash[blen - 1] == '/')
		blen--;
	c->hostport = fl_strndup(hp, n);
	c->base = fl_strndup(slash ? slash : "", blen);
	if (!c->hostport || !c->base) {
		rc = HTTP_ERR_NOMEM;
		goto fail;
	}
	*out = c;
	return HTTP_OK;
fail:
	if (rc == HTTP_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	http_conn_free(c);
	return rc;
}

static void conn_drop(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = false;
	c->pending = false;
}

void http_conn_free(struct http_conn *c)
{
	if (!c)
		return;
	conn_drop(c);
	free(c->host);
	free(c->hostport);
	free(c->base);
	free(c);
}

int http_conn_fd(const struct http_conn *c)
{
	return c->fd;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int try_connect(struct http_conn *c, const struct addrinfo *ai, int64_t deadline,
		       int *err_no)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		*err_no = errno;
		return HTTP_ERR_IO;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int w;

		if (errno != EINPROGRESS) {
			*err_no = errno;
			close(fd);
			return HTTP_ERR_IO;
		}
		w = wait_fd(fd, POLLOUT, deadline);
		if (w <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			*err_no = w == 0 ? ETIMEDOUT : soerr ? soerr : errno;
			close(fd);
			return HTTP_ERR_IO;
		}
	}
	/* The request goes in one write; no reason to wait for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->reused = false;
	return HTTP_OK;
}

static int conn_open(struct http_conn *c, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int gai, err_no = 0, rc = HTTP_ERR_IO;

	gai = getaddrinfo(c->host, c->port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "cannot resolve %s: %s", c->host,
			 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return gai == EAI_MEMORY ? HTTP_ERR_NOMEM : HTTP_ERR_IO;
	}
	for (ai = res; ai && rc != HTTP_OK && mono_ms() < deadline; ai = ai->ai_next)
		rc = try_connect(c, ai, deadline, &err_no);
	freeaddrinfo(res);
	if (rc == HTTP_OK)
		return rc;
	if (err_no == ETIMEDOUT || !err_no)
		snprintf(err, errlen, "connect timed out after %ld ms", c->timeout_ms);
	else
		snprintf(err, errlen, "%s", strerror(err_no));
	return rc;
}

/* A kept-alive socket the server closed (or wrote to) is of no use. */
static bool conn_stale(struct http_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

static int send_all(struct http_conn *c, struct iovec *iov, int n, int64_t deadline,
		    char *err, size_t errlen)
{
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, POLLOUT, deadline) <= 0) {
				snprintf(err, errlen, "send timed out after %ld ms", c->timeout_ms);
				return HTTP_ERR_IO;
			}
			continue;
		}
		if (w < 0) {
			set_err(err, errlen, "send", errno);
			return HTTP_ERR_IO;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return HTTP_OK;
}

static int send_request(struct http_conn *c, const char *method, const char *path,
			const char *body, const char *auth, int64_t deadline, char *err,
			size_t errlen)
{
	char head[4096], clen[48] = "";
	size_t blen = body ? strlen(body) : 0;
	struct iovec iov[2];
	int n, rc;

	/* GET and DELETE carry no body, and say none. */
	if (body)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", blen);
	n = snprintf(head, sizeof(head),
		     "%s %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
		     "%s%s%s%s\r\n",
		     method, c->base, path, c->hostport, clen, auth ? "Authorization: " : "",
		     auth ? auth : "", auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		explicit_bzero(head, sizeof(head));
		snprintf(err, errlen, "request head too long");
		return HTTP_ERR_USAGE;
	}
	iov[0] = (struct iovec){ .iov_base = head, .iov_len = (size_t)n };
	iov[1] = (struct iovec){ .iov_base = (void *)body, .iov_len = blen };
	rc = send_all(c, iov, blen ? 2 : 1, deadline, err, errlen);
	explicit_bzero(head, sizeof(head));
	return rc;
}

/* Read once (the socket is non-blocking) and feed the parser. */
static int read_some(struct http_conn *c, char *err, size_t errlen)
{
	char buf[16384];
	ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
	size_t used;
	int rc;

	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return HTTP_OK;
		set_err(err, errlen, "receive", errno);
		return HTTP_ERR_IO;
	}
	if (r == 0) {
		rc = http_parser_eof(&c->p);
		if (rc != HTTP_DONE)
			snprintf(err, errlen, "connection closed before the answer was complete");
		return rc;
	}
	c->got_bytes = true;
	rc = http_parser_feed(&c->p, buf, (size_t)r, &used);
	if (rc == HTTP_ERR_PROTO)
		snprintf(err, errlen, "not an HTTP/1.1 answer we can read");
	else if (rc == HTTP_ERR_CALLBACK)
		snprintf(err, errlen, "transfer stopped");
	/* Bytes after the answer: nobody asked for them; do not reuse. */
	if (rc == HTTP_DONE && used < (size_t)r)
		c->p.close = true;
	return rc;
}

static int body_to_buf(void *arg, const char *data, size_t len)
{
	return buf_add(arg, data, len) < 0;
}

/* Connect when needed and send; the answer is read by await_answer. */
static int start_request(struct http_conn *c, const char *method, const char *path,
			 const char *body, const char *auth, int64_t deadline, char *err,
			 size_t errlen)
{
	int rc;

	c->sent_reused = false;
	/* An answer nobody read (a prefetch not taken) would be misread. */
	if (c->fd >= 0 && (c->pending || conn_stale(c)))
		conn_drop(c);
	if (c->fd < 0) {
		rc = conn_open(c, deadline, err, errlen);
		if (rc != HTTP_OK)
			return rc;
	}
	http_parser_init(&c->p, body_to_buf, NULL);
	c->got_bytes = false;
	c->sent_reused = c->reused;
	rc = send_request(c, method, path, body, auth, deadline, err, errlen);
	c->pending = rc == HTTP_OK;
	return rc;
}

static int await_answer(struct http_conn *c, struct buf *resp, int64_t deadline,
			char *err, size_t errlen)
{
	int rc = HTTP_OK;

	buf_reset(resp);
	c->p.arg = resp;
	while (rc == HTTP_OK) {
		int w = wait_fd(c->fd, POLLIN, deadline);

		if (w <= 0) {
			snprintf(err, errlen, "timed out after %ld ms", c->timeout_ms);
			return HTTP_ERR_IO;
		}
		rc = read_some(c, err, errlen);
	}
	return rc;
}

/* After an answer: keep the socket for the next request, or close it. */
static int answered(struct http_conn *c, int rc, int *status)
{
	c->pending = false;
	if (rc != HTTP_DONE) {
		conn_drop(c);
		return rc == HTTP_ERR_CALLBACK ? HTTP_ERR_NOMEM : rc;
	}
	*status = c->p.status;
	if (http_parser_keepalive(&c->p))
		c->reused = true;
	else
		conn_drop(c);
	return HTTP_OK;
}

int http_request(struct http_conn *c, const char *method, const char *path, const char *body,
		 const char *auth, int *status, struct buf *resp, char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + c->timeout_ms;
	int rc;

	for (int attempt = 0;; attempt++) {
		rc = start_request(c, method, path, body, auth, deadline, err, errlen);
		if (rc == HTTP_OK)
			rc = await_answer(c, resp, deadline, err, errlen);
		rc = answered(c, rc, status);
		/* A kept-alive socket the server closed meanwhile: once more. */
		if (rc != HTTP_ERR_IO || !c->sent_reused || c->got_bytes || attempt > 0 ||
		    mono_ms() >= deadline)
			return rc;
	}
}

int http_post_send(struct http_conn *c, const char *path, const char *body, const char *auth,
		   char *err, size_t errlen)
{
	int rc = start_request(c, "POST", path, body, auth, mono_ms() + c->timeout_ms, err, errlen);

	if (rc != HTTP_OK)
		conn_drop(c);
	return rc;
}

int http_post_recv(struct http_conn *c, int *status, struct buf *resp, char *err,
		   size_t errlen)
{
	int rc;

	if (!c->pending || c->fd < 0) {
		snprintf(err, errlen, "no request sent");
		return HTTP_ERR_IO;
	}
	rc = await_answer(c, resp, mono_ms() + c->timeout_ms, err, errlen);
	return answered(c, rc, status);
}

static void stream_keepalive(int fd)
{
	int one = 1, idle = 10, intvl = 5;

	/* A silent peer (a host gone without a FIN) ends the stream. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
}

int http_stream_open(struct http_conn *c, const char *method, const char *path,
		     const char *body, const char *auth, http_body_cb cb, void *arg, char *err,
		     size_t errlen)
{
	int64_t deadline = mono_ms() + c->timeout_ms;
	int rc;

	conn_drop(c);
	rc = conn_open(c, deadline, err, errlen);
	if (rc != HTTP_OK)
		return rc;
	stream_keepalive(c->fd);
	http_parser_init(&c->p, cb, arg);
	c->got_bytes = false;
	rc = send_request(c, method, path, body, auth, deadline, err, errlen);
	if (rc != HTTP_OK)
		conn_drop(c);
	return rc;
}

int http_stream_read(struct http_conn *c, int *status, char *err, size_t errlen)
{
	int rc = HTTP_OK;

	if (c->fd < 0) {
		snprintf(err, errlen, "no stream open");
		return HTTP_ERR_IO;
	}
	/* Bounded, so that a busy stream still lets the caller look at its clock. */
	for (int i = 0; i < 16 && rc == HTTP_OK; i++) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			return HTTP_OK;
		rc = read_some(c, err, errlen);
	}
	*status = c->p.status;
	if (rc != HTTP_OK)
		conn_drop(c);
	return rc;
}
