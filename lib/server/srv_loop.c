/* srv_loop.c - flannel-server's one loop: accept, read requests with a
 * deadline, hand them to srv_api.c, write replies, hold parked long polls,
 * and wake them when the shared watch (srv_ring.c) has news. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "server/srv_conn.h"

static void conn_free(struct srv *s, struct conn *c)
{
	if (c->state == C_PARKED)
		s->n_parked--;
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
	srv_req_clear(&c->req);
	buf_free(&c->out);
	free(c);
}

/* Read what is there: bytes, 0 at EOF, -1 nothing yet, -2 an error. */
static ssize_t conn_read(struct conn *c, char *buf, size_t n)
{
	ssize_t r;

	c->ssl_wants_write = false;
	if (!c->ssl) {
		r = recv(c->fd, buf, n, 0);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? -1 : -2;
		return r;
	}
	r = SSL_read(c->ssl, buf, (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, (int)r)) {
	case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = true; /* fall through */
	case SSL_ERROR_WANT_READ: return -1;
	case SSL_ERROR_ZERO_RETURN: return 0;
	default: ERR_clear_error(); return -2;
	}
}

static ssize_t conn_write(struct conn *c, const char *buf, size_t n)
{
	ssize_t r;

	if (!c->ssl) {
		r = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? -1 : -2;
		return r;
	}
	r = SSL_write(c->ssl, buf, (int)n);
	if (r > 0)
		return r;
	switch (SSL_get_error(c->ssl, (int)r)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ: return -1;
	default: ERR_clear_error(); return -2;
	}
}

/* Parse what is buffered; a complete request goes to the handlers. */
static void parse_buffered(struct srv *s, struct conn *c)
{
	while (c->in_len && (c->state == C_IDLE || c->state == C_READING)) {
		size_t used = 0;
		int rc;

		if (c->state == C_IDLE) {
			c->state = C_READING;
			c->deadline = mono_ms() + s->o->read_timeout_ms;
		}
		rc = srv_req_feed(&c->req, c->in, c->in_len, &used);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
		if (rc == 0)
			continue;
		if (rc == 1) {
			api_handle(s, c);
		} else {
			c->close_after = true;
			srv_reply_text(s, c, rc, "%s", rc == 413 ? "request body over 65536 bytes" :
				       rc == 411 ? "a body needs Content-Length" :
				       rc == 501 ? "Transfer-Encoding is not supported" :
				       rc == 405 ? "method not allowed" : "malformed request");
		}
	}
}

static void drain(struct conn *c)
{
	char b[4096];

	for (int i = 0; i < 16; i++) {
		ssize_t r = recv(c->fd, b, sizeof(b), 0);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			c->state = C_CLOSED;
			return;
		}
	}
}

static void on_readable(struct srv *s, struct conn *c)
{
	/* A refused request's remaining bytes (a body over the limit) are
	 * dropped, not buffered: the reply goes out first. */
	for (int i = 0; i < 8; i++) {
		ssize_t r;

		if (c->state == C_DRAIN || (c->state == C_WRITING && c->close_after)) {
			c->in_len = 0;
			drain(c);
			return;
		}
		if (c->in_len == sizeof(c->in)) {
			if (c->state != C_PARKED)
				parse_buffered(s, c);
			if (c->in_len == sizeof(c->in)) {
				/* A parked client that keeps sending: it is not waiting. */
				c->state = c->state == C_PARKED ? (s->n_parked--, C_CLOSED) : C_CLOSED;
				return;
			}
		}
		r = conn_read(c, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (r == -1)
			break;
		if (r <= 0) {
			if (c->state == C_PARKED)
				s->n_parked--;
			c->state = C_CLOSED; /* gone, or broken: nobody to answer */
			return;
		}
		c->in_len += (size_t)r;
	}
	if (c->state == C_IDLE || c->state == C_READING)
		parse_buffered(s, c);
}

static void on_writable(struct srv *s, struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = conn_write(c, c->out.data + c->out_off, c->out.len - c->out_off);

		if (w == -1)
			return;
		if (w < 0) {
			c->state = C_CLOSED;
			return;
		}
		c->out_off += (size_t)w;
	}
	if (c->close_after) {
		if (c->ssl) {
			c->state = C_CLOSED;
			return;
		}
		shutdown(c->fd, SHUT_WR);
		c->state = C_DRAIN;
		c->deadline = mono_ms() + 2000;
		return;
	}
	srv_req_clear(&c->req);
	buf_reset(&c->out);
	c->out_off = 0;
	c->state = C_IDLE;
	c->deadline = mono_ms() + s->o->idle_timeout_ms;
	parse_buffered(s, c);
}

static void handshake(struct conn *c)
{
	int r = SSL_accept(c->ssl);

	c->ssl_wants_write = false;
	if (r == 1) {
		c->handshaken = true;
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_WRITE: c->ssl_wants_write = true; return;
	case SSL_ERROR_WANT_READ: return;
	default: {
		char why[256];

		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		log_warn("TLS handshake with %s refused: %s", c->peer_s, why);
		ERR_clear_error();
		c->state = C_CLOSED;
	}
	}
}

static void peer_of(struct conn *c, const struct sockaddr_storage *ss)
{
	char a[ADDR_STRLEN];

	memset(&c->peer, 0, sizeof(c->peer));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		c->peer.family = AF_INET;
		c->peer.v4 = in->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		/* A v4 client of a [::] socket is that IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			c->peer.family = AF_INET;
			memcpy(&c->peer.v4, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			c->peer.family = AF_INET6;
			c->peer.v6 = in6->sin6_addr;
		}
	}
	snprintf(c->peer_s, sizeof(c->peer_s), "%s",
		 c->peer.family ? addr_format(&c->peer, a, sizeof(a)) : "(unix)");
}

static void accept_all(struct srv *s, int lfd, SSL_CTX *tls)
{
	for (int i = 0; i < 64 && s->n_conns < s->o->max_conns; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		c = fl_calloc(1, sizeof(*c));
		if (!c || (s->n_conns == s->cap_conns &&
			   !(s->conns = fl_realloc(s->conns, (s->cap_conns = s->cap_conns * 2 + 64) *
								sizeof(*s->conns))))) {
			log_err("accept: out of memory");
			free(c);
			close(fd);
			return;
		}
		c->fd = fd;
		c->out.max = 64u << 20;
		srv_req_init(&c->req);
		peer_of(c, &ss);
		c->state = C_IDLE;
		/* The handshake is part of the first request's deadline. */
		c->deadline = mono_ms() + s->o->read_timeout_ms;
		if (tls) {
			c->ssl = SSL_new(tls);
			if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
				log_err("TLS for %s: out of memory", c->peer_s);
				conn_free(s, c);
				continue;
			}
		} else {
			c->handshaken = true;
		}
		s->conns[s->n_conns++] = c;
	}
}

static short want_events(const struct conn *c)
{
	short ev = c->ssl_wants_write ? POLLOUT : 0;

	if (c->state == C_WRITING)
		return ev | POLLOUT;
	return ev | POLLIN;
}

static void on_deadline(struct srv *s, struct conn *c)
{
	if (c->state == C_READING || (c->state == C_IDLE && !c->handshaken)) {
		/* A slow client: say so, once, and stop waiting for it. */
		c->close_after = true;
		if (c->handshaken)
			srv_reply_text(s, c, 408, "request not complete within %lld ms",
				       (long long)s->o->read_timeout_ms);
		else
			c->state = C_CLOSED;
		if (c->state == C_WRITING)
			c->deadline = mono_ms() + 1000;
		return;
	}
	if (c->state != C_PARKED)
		c->state = C_CLOSED;
}

static void serve_one(struct srv *s, struct conn *c, short rev)
{
	if (rev & (POLLERR | POLLNVAL)) {
		if (c->state == C_PARKED)
			s->n_parked--;
		c->state = C_CLOSED;
		return;
	}
	if (!c->handshaken) {
		if (rev & (POLLIN | POLLOUT | POLLHUP))
			handshake(c);
		return;
	}
	if (rev & (POLLIN | POLLHUP))
		on_readable(s, c);
	if (c->state == C_WRITING && (rev & POLLOUT || c->out_off == 0))
		on_writable(s, c);
}

static void sweep(struct srv *s)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n_conns; i++) {
		if (s->conns[i]->state == C_CLOSED)
			conn_free(s, s->conns[i]);
		else
			s->conns[j++] = s->conns[i];
	}
	s->n_conns = j;
}

static void wake_parked(struct srv *s)
{
	ring_drain(&s->ring);
	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *c = s->conns[i];

		if (c->state == C_PARKED) {
			api_wake(s, c);
			if (c->state == C_WRITING)
				on_writable(s, c);
		}
	}
}

static int loop(struct srv *s, int lfd, SSL_CTX *tls)
{
	struct pollfd *pf = NULL;
	size_t cap = 0;
	int rc = 0;

	for (;;) {
		size_t n = 3, need = s->n_conns + 3;
		int64_t now = mono_ms(), next = now + 1000;

		if (need > cap) {
			struct pollfd *g = fl_realloc(pf, need * 2 * sizeof(*pf));

			if (!g) {
				log_err("poll: out of memory");
				rc = FL_ERR_OS;
				break;
			}
			pf = g;
			cap = need * 2;
		}
		pf[0] = (struct pollfd){ .fd = sig_fd(), .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = ring_fd(&s->ring), .events = POLLIN };
		pf[2] = (struct pollfd){ .fd = s->n_conns < s->o->max_conns ? lfd : -1,
					 .events = POLLIN };
		for (size_t i = 0; i < s->n_conns; i++) {
			struct conn *c = s->conns[i];

			pf[n++] = (struct pollfd){ .fd = c->fd, .events = want_events(c) };
			if (c->state != C_PARKED && c->deadline < next)
				next = c->deadline;
		}
		if (poll(pf, n, (int)(next > now ? next - now : 0)) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			rc = FL_ERR_OS;
			break;
		}
		if (sig_stop_requested())
			break;
		now = mono_ms();
		/* Only the connections polled above: accept_all appends. */
		for (size_t i = 3; i < n; i++) {
			struct conn *c = s->conns[i - 3];

			if (pf[i].revents)
				serve_one(s, c, pf[i].revents);
			if (c->state != C_CLOSED && c->state != C_PARKED && c->deadline <= now)
				on_deadline(s, c);
		}
		if (pf[1].revents & POLLIN)
			wake_parked(s);
		if (pf[2].revents & POLLIN)
			accept_all(s, lfd, tls);
		sweep(s);
	}
	free(pf);
	return rc;
}

/* Many parked polls need many descriptors: as many as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int server_run(const struct server_opts *o)
{
	struct srv s = { .o = o };
	SSL_CTX *tls = NULL;
	char err[512];
	int lfd = -1, rc = 0;
	size_t n = strlen(o->prefix);

	while (n > 1 && o->prefix[n - 1] == '/')
		n--;
	snprintf(s.prefix, sizeof(s.prefix), "%.*s", (int)n, o->prefix);
	raise_nofile();
	if (o->certfile && !(tls = srv_tls_ctx(o->certfile, o->keyfile, o->cafile, err,
					       sizeof(err)))) {
		log_err("%s", err);
		return FL_ERR_CONFIG;
	}
	if (etcd_open(&o->etcd, &s.e, err, sizeof(err)) != ETCD_OK) {
		log_err("set up etcd client: %s", err);
		rc = FL_ERR_USAGE;
		goto out;
	}
	if (ring_start(&s.ring, &o->etcd, s.prefix, err, sizeof(err)) < 0) {
		log_err("watch %s/: %s", s.prefix, err);
		rc = FL_ERR_UNAVAILABLE;
		goto out;
	}
	if (srv_listen_open(o->listen, &lfd, err, sizeof(err)) < 0) {
		log_err("%s", err);
		rc = FL_ERR_CONFIG;
		goto out;
	}
	log_notice("serving the /v1 API on %s%s for etcd prefix %s (at most %u watches)", o->listen,
		   tls ? (o->cafile ? " (TLS, client certificates required)" : " (TLS)") : "",
		   s.prefix, o->max_watches);
	if (sd_notify_send(o->notify_socket, "READY=1") < 0)
		log_warn("notify %s: %s", o->notify_socket, strerror(errno));
	rc = loop(&s, lfd, tls);
	log_notice("stopping after %lu requests", s.requests);
out:
	for (size_t i = 0; i < s.n_conns; i++)
		conn_free(&s, s.conns[i]);
	free(s.conns);
	if (lfd >= 0)
		close(lfd);
	ring_stop(&s.ring);
	api_free(&s);
	etcd_close(s.e);
	SSL_CTX_free(tls);
	return rc;
}
