/* lib/http: the response parser fed at every split, and the client against
 * forked servers on 127.0.0.1 (keep-alive, chunked, stale connections, early
 * close, silence, a slow stream), allocation failures. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "etcd/http.h"
#include "tap.h"

struct sink {
	struct buf b;
	int fail;
};

static int to_sink(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;

	return s->fail || buf_add(&s->b, data, len) < 0;
}

/* Feed msg in two pieces split at cut (0 = one byte at a time), then EOF. */
static int parse_split(const char *msg, size_t n, size_t cut, struct http_parser *p,
		       struct sink *s, bool eof)
{
	size_t off = 0, used;
	int rc = HTTP_OK;

	http_parser_init(p, to_sink, s);
	s->b.len = 0;
	if (s->b.data)
		s->b.data[0] = '\0';
	while (rc == HTTP_OK && off < n) {
		size_t piece = cut ? (off < cut ? cut - off : n - off) : 1;

		rc = http_parser_feed(p, msg + off, piece, &used);
		if (used != piece && rc == HTTP_OK)
			return -100;
		off += used;
	}
	if (rc == HTTP_OK && eof)
		rc = http_parser_eof(p);
	return rc;
}

struct pcase {
	const char *name, *msg, *body;
	int rc, status;
	bool eof, keepalive;
};

static void test_parser(void)
{
	static const struct pcase cases[] = {
		{ "Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
		  "hello", HTTP_DONE, 200, false, true },
		{ "lower-case names, LF only", "HTTP/1.1 404 Not Found\ncontent-length:3\n\nabc",
		  "abc", HTTP_DONE, 404, false, true },
		{ "chunked, extension, trailer",
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n"
		  "6\r\n world\r\n0\r\nT: v\r\n\r\n", "hello world", HTTP_DONE, 200, false, true },
		{ "Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\n"
		  "Content-Length: 2\r\n\r\nok", "ok", HTTP_DONE, 200, false, false },
		{ "HTTP/1.0, body up to the close", "HTTP/1.0 200 OK\r\n\r\nuntil close",
		  "until close", HTTP_DONE, 200, true, false },
		{ "100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
		  "Content-Length: 1\r\n\r\nx", "x", HTTP_DONE, 201, false, true },
		{ "empty body", "HTTP/1.1 204 No Content\r\n\r\n", "", HTTP_DONE, 204, false, true },
		{ "closed in the body", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
		  "short", HTTP_ERR_IO, 200, true, false },
		{ "not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", "", HTTP_ERR_PROTO, 0, false, false },
		{ "HTTP/2", "HTTP/2 200\r\n\r\n", "", HTTP_ERR_PROTO, 0, false, false },
		{ "bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "",
		  HTTP_ERR_PROTO, 200, false, false },
		{ "bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		  "", HTTP_ERR_PROTO, 200, false, false },
		{ "chunk without its CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "2\r\nabX\r\n", "ab", HTTP_ERR_PROTO, 200, false, false },
	};
	struct sink s = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		size_t n = strlen(c->msg), bad = 0;

		for (size_t cut = 0; cut < n; cut++) {
			struct http_parser p;
			int rc = parse_split(c->msg, n, cut, &p, &s, c->eof);

			if (rc != c->rc || (c->status && p.status != c->status) ||
			    strcmp(s.b.data ? s.b.data : "", c->body) != 0 ||
			    (rc == HTTP_DONE && http_parser_keepalive(&p) != c->keepalive)) {
				if (!bad++)
					printf("# %s: cut %zu: rc %d status %d body '%s'\n", c->name,
					       cut, rc, p.status, s.b.data ? s.b.data : "");
			}
		}
		ok(bad == 0, "parser: %s, split at every byte", c->name);
	}
	{
		/* Bytes after a complete answer are left for the caller. */
		const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1";
		struct http_parser p;
		size_t used;
		int rc;

		http_parser_init(&p, to_sink, &s);
		rc = http_parser_feed(&p, two, strlen(two), &used);
		ok(rc == HTTP_DONE && used == strlen(two) - 8, "parser: stops after the answer");
		s.fail = 1;
		http_parser_init(&p, to_sink, &s);
		rc = http_parser_feed(&p, two, strlen(two), &used);
		is_int(rc, HTTP_ERR_CALLBACK, "parser: the callback can stop it");
		s.fail = 0;
	}
	free(s.b.data);
}

/* ---- forked servers ---- */

enum mode { M_KEEP, M_CHUNKED, M_CLOSE_AFTER_ONE, M_EARLY, M_SILENT, M_STREAM, M_ECHO };

static void put(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Read one request (head and Content-Length body) into buf: 0 or -1 at EOF. */
static int read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end = NULL;

	while (!end) {
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);

		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	{
		const char *cl = strstr(buf, "Content-Length: ");
		size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);

		while (len < want && len < cap - 1) {
			ssize_t r = recv(fd, buf + len, cap - len - 1, 0);

			if (r <= 0)
				return -1;
			len += (size_t)r;
		}
		buf[len] = '\0';
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void respond(int fd, enum mode m, int conn, int req, const char *request)
{
	char out[16384], body[4096];

	switch (m) {
	case M_KEEP:
	case M_CLOSE_AFTER_ONE:
		snprintf(body, sizeof(body), "{\"conn\":%d,\"req\":%d}", conn, req);
		snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(body), body);
		put(fd, out);
		break;
	case M_ECHO:
		snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(request), request);
		put(fd, out);
		break;
	case M_CHUNKED:
		snprintf(body, sizeof(body), "{\"conn\":%d,\"req\":%d}", conn, req);
		snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "3\r\n%.3s\r\n%zx\r\n%s\r\n0\r\n\r\n", body, strlen(body) - 3, body + 3);
		put(fd, out);
		break;
	case M_EARLY:
		put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
		break;
	case M_SILENT:
		sleep(30);
		break;
	case M_STREAM:
		put(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
		for (int i = 0; i < 5; i++) {
			snprintf(out, sizeof(out), "7\r\nline %d\n\r\n", i);
			sleep_ms(50);
			put(fd, out);
		}
		put(fd, "0\r\n\r\n");
		break;
	}
}

static void serve(int lfd, enum mode m)
{
	char buf[8192];

	alarm(60); /* never outlive the test */
	for (int conn = 1;; conn++) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			_exit(1);
		for (int req = 1; read_request(fd, buf, sizeof(buf)) == 0; req++) {
			respond(fd, m, conn, req, buf);
			if (m != M_KEEP && m != M_CHUNKED && m != M_ECHO)
				break;
		}
		close(fd);
	}
}

struct server {
	pid_t pid;
	int port;
	char url[64];
};

static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int server_start(struct server *s, enum mode m)
{
	int lfd = listener(&s->port);

	if (lfd < 0)
		return -1;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	fflush(stdout);
	s->pid = fork();
	if (s->pid == 0)
		serve(lfd, m);
	close(lfd);
	return s->pid > 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

static int post(const char *url, long timeout, const char *auth, int *status,
		struct buf *b, char *err, size_t errlen)
{
	struct http_conn *c;
	int rc = http_conn_new(url, timeout, &c, err, errlen);

	if (rc != HTTP_OK)
		return rc;
	rc = http_request(c, "POST", "/v3/kv/range", "{\"key\":\"YQ==\"}", auth, status, b, err, errlen);
	http_conn_free(c);
	return rc;
}

static void test_keepalive(enum mode m, const char *what)
{
	struct server s;
	struct http_conn *c = NULL;
	struct buf b = { 0 };
	char err[256] = "", want[64];
	int status = 0, rc = HTTP_ERR_IO, good = 0;

	if (server_start(&s, m) < 0 || http_conn_new(s.url, 5000, &c, err, sizeof(err))) {
		ok(0, "%s: server and connection", what);
		server_stop(&s);
		return;
	}
	for (int i = 1; i <= 3; i++) {
		rc = http_request(c, "POST", "/v3/kv/range", "{}", NULL, &status, &b, err, sizeof(err));
		snprintf(want, sizeof(want), "{\"conn\":%d,\"req\":%d}",
			 m == M_CLOSE_AFTER_ONE ? i : 1, m == M_CLOSE_AFTER_ONE ? 1 : i);
		if (rc == HTTP_OK && status == 200 && b.data && strcmp(b.data, want) == 0)
			good++;
		else
			printf("# request %d: rc %d status %d body '%s' err '%s'\n", i, rc, status,
			       b.data ? b.data : "", err);
	}
	is_int(good, 3, "%s", what);
	http_conn_free(c);
	free(b.data);
	server_stop(&s);
}

static void test_echo(void)
{
	struct server s;
	struct buf b = { 0 };
	char err[256] = "", url[96];
	int status = 0, rc;

	if (server_start(&s, M_ECHO) < 0) {
		ok(0, "echo server");
		return;
	}
	snprintf(url, sizeof(url), "%s/base/", s.url);
	rc = post(url, 5000, "tok123", &status, &b, err, sizeof(err));
	ok(rc == HTTP_OK && b.data && strncmp(b.data, "POST /base/v3/kv/range HTTP/1.1\r\n", 33) == 0,
	   "request line carries the URL's path");
	ok(b.data && strstr(b.data, "\r\nAuthorization: tok123\r\n") &&
	   strstr(b.data, "\r\nContent-Type: application/json\r\n") &&
	   strstr(b.data, "\r\nContent-Length: 14\r\n") &&
	   strstr(b.data, "\r\n\r\n{\"key\":\"YQ==\"}"),
	   "Authorization, Content-Type, Content-Length and the body");
	snprintf(url, sizeof(url), "http://localhost:%d", s.port);
	rc = post(url, 5000, NULL, &status, &b, err, sizeof(err));
	ok(rc == HTTP_OK && b.data && !strstr(b.data, "Authorization"),
	   "a host name resolves (every address tried); no auth header without auth");
	if (rc != HTTP_OK)
		printf("# %s\n", err);
	free(b.data);
	server_stop(&s);
}

static void test_failures(void)
{
	struct server s;
	struct buf b = { 0 };
	char err[256] = "", url[64];
	int status = 0, rc, port, lfd;
	int64_t t0;

	/* A port nobody listens on: take one, then close it. */
	lfd = listener(&port);
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	rc = post(url, 5000, NULL, &status, &b, err, sizeof(err));
	ok(rc == HTTP_ERR_IO && strcmp(err, "Connection refused") == 0, "refused: %s", err);

	if (server_start(&s, M_EARLY) == 0) {
		rc = post(s.url, 5000, NULL, &status, &b, err, sizeof(err));
		ok(rc == HTTP_ERR_IO && strstr(err, "closed before"), "server closing early: %s", err);
		server_stop(&s);
	}
	if (server_start(&s, M_SILENT) == 0) {
		t0 = mono_ms();
		rc = post(s.url, 300, NULL, &status, &b, err, sizeof(err));
		ok(rc == HTTP_ERR_IO && strcmp(err, "timed out after 300 ms") == 0 &&
		   mono_ms() - t0 < 5000, "a server that never answers: %s", err);
		server_stop(&s);
	}
	rc = post("http://[::1", 5000, NULL, &status, &b, err, sizeof(err));
	is_int(rc, HTTP_ERR_USAGE, "bad URL: unclosed bracket");
	rc = post("http://:80", 5000, NULL, &status, &b, err, sizeof(err));
	is_int(rc, HTTP_ERR_USAGE, "bad URL: no host");
	rc = post("http://h:8x", 5000, NULL, &status, &b, err, sizeof(err));
	is_int(rc, HTTP_ERR_USAGE, "bad URL: port not a number");
	rc = post("https://h", 5000, NULL, &status, &b, err, sizeof(err));
	is_int(rc, HTTP_ERR_USAGE, "bad URL: not http://");
	free(b.data);
}

static void test_ipv6(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), status = 0, rc;
	socklen_t al = sizeof(a);
	struct buf b = { 0 };
	char err[256] = "", url[64];
	pid_t pid;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		if (fd >= 0)
			close(fd);
		ok(1, "# SKIP no IPv6 loopback here");
		return;
	}
	snprintf(url, sizeof(url), "http://[::1]:%d/", ntohs(a.sin6_port));
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		serve(fd, M_KEEP);
	close(fd);
	rc = post(url, 5000, NULL, &status, &b, err, sizeof(err));
	ok(rc == HTTP_OK && status == 200, "IPv6 literal [::1]: %s", rc ? err : "ok");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(b.data);
}

static void test_stream(void)
{
	struct server s;
	struct http_conn *c = NULL;
	struct sink k = { 0 };
	char err[256] = "";
	int status = 0, rc = HTTP_OK, polls = 0;
	int64_t deadline;

	if (server_start(&s, M_STREAM) < 0 || http_conn_new(s.url, 5000, &c, err, sizeof(err)) ||
	    http_stream_open(c, "POST", "/v3/watch", "{}", NULL, to_sink, &k, err, sizeof(err))) {
		ok(0, "stream: open: %s", err);
		http_conn_free(c);
		server_stop(&s);
		return;
	}
	deadline = mono_ms() + 10000;
	while (rc == HTTP_OK && mono_ms() < deadline) {
		struct pollfd p = { .fd = http_conn_fd(c), .events = POLLIN };

		poll(&p, 1, 1000);
		polls++;
		rc = http_stream_read(c, &status, err, sizeof(err));
	}
	ok(rc == HTTP_DONE && status == 200 && k.b.data &&
	   strcmp(k.b.data, "line 0\nline 1\nline 2\nline 3\nline 4\n") == 0 && polls > 1,
	   "slow stream: every chunk as it came, then the end (%d polls)", polls);
	is_int(http_conn_fd(c), -1, "the ended stream's socket is closed");
	http_conn_free(c);
	free(k.b.data);
	server_stop(&s);
}

/* Send now, read later; an unread answer is never taken for another's. */
static void test_send_recv(void)
{
	struct server s;
	struct http_conn *c = NULL;
	struct buf b = { 0 };
	char err[256] = "";
	int status = 0, rc;

	if (server_start(&s, M_KEEP) < 0 || http_conn_new(s.url, 5000, &c, err, sizeof(err))) {
		ok(0, "send/recv: server and connection");
		server_stop(&s);
		return;
	}
	rc = http_post_send(c, "/v3/kv/range", "{}", NULL, err, sizeof(err));
	if (rc == HTTP_OK)
		rc = http_post_recv(c, &status, &b, err, sizeof(err));
	ok(rc == HTTP_OK && b.data && strcmp(b.data, "{\"conn\":1,\"req\":1}") == 0,
	   "send, then receive the answer");
	rc = http_post_send(c, "/v3/kv/range", "{}", NULL, err, sizeof(err));
	if (rc == HTTP_OK)
		rc = http_request(c, "POST", "/v3/kv/range", "{}", NULL, &status, &b, err, sizeof(err));
	ok(rc == HTTP_OK && b.data && strcmp(b.data, "{\"conn\":2,\"req\":1}") == 0,
	   "a request while an answer is unread: a new connection, its own answer");
	rc = http_post_recv(c, &status, &b, err, sizeof(err));
	is_int(rc, HTTP_ERR_IO, "receive without a request sent");
	http_conn_free(c);
	free(b.data);
	server_stop(&s);
}

/* Fail the 1st, 2nd... allocation until a request gets through. */
static void test_alloc_failures(void)
{
	struct server s;
	struct buf b = { 0 };
	char err[256] = "";
	int status = 0, rc = HTTP_ERR_NOMEM, bad = 0;
	unsigned long n;

	if (server_start(&s, M_CHUNKED) < 0) {
		ok(0, "alloc: server");
		return;
	}
	for (n = 1; n < 50 && rc != HTTP_OK; n++) {
		b.len = 0;
		fl_alloc_fail_at(n);
		rc = post(s.url, 5000, NULL, &status, &b, err, sizeof(err));
		fl_alloc_fail_at(0);
		if (rc != HTTP_OK && rc != HTTP_ERR_NOMEM) {
			bad++;
			printf("# fail at %lu: rc %d %s\n", n, rc, err);
		}
	}
	ok(rc == HTTP_OK && bad == 0 && n > 2,
	   "every allocation failure is HTTP_ERR_NOMEM (%lu tried), then success", n - 1);
	free(b.data);
	server_stop(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_parser();
	test_keepalive(M_KEEP, "keep-alive: three requests on one connection");
	test_keepalive(M_CHUNKED, "chunked answers, kept alive");
	test_keepalive(M_CLOSE_AFTER_ONE, "server closes a kept-alive connection: reconnect");
	test_echo();
	test_failures();
	test_ipv6();
	test_stream();
	test_send_recv();
	test_alloc_failures();
	return tap_done();
}
