/* healthz.c - a tiny HTTP/1.0 answer for health checks, nothing more. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "flanneld/healthz.h"

int healthz_open(const char *ip, unsigned port, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		snprintf(err, errlen, "%s: not an IP address", ip);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "listen on %s port %u: %s", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The whole body, however long; a client that stops reading is dropped. */
static void send_all(int c, const char *s, size_t len)
{
	struct pollfd p = { .fd = c, .events = POLLOUT };

	while (len > 0) {
		ssize_t n = send(c, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN && poll(&p, 1, 1000) == 1)
			continue;
		if (n <= 0) {
			log_debug("healthz: send: %s", strerror(errno));
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

static void answer_type(int c, const char *status, const char *type, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, strlen(body));

	if (n > 0 && (size_t)n < sizeof(head)) {
		send_all(c, head, (size_t)n);
		send_all(c, body, strlen(body));
	}
}

static void answer(int c, const char *status, const char *body)
{
	answer_type(c, status, "text/plain", body);
}

/* A client and its request line (at most 200 ms to send it); -1: none. */
static int take_request(int fd, char *req, size_t len, ssize_t *got)
{
	struct pollfd p;
	ssize_t n = 0;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return -1;
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, 200) == 1)
		n = recv(c, req, len - 1, MSG_DONTWAIT);
	req[n > 0 ? n : 0] = '\0';
	*got = n;
	return c;
}

void healthz_serve_metrics(int fd, char *(*body)(void *arg), void *arg)
{
	char req[1024], *m;
	ssize_t n;
	int c = take_request(fd, req, sizeof(req), &n);

	if (c < 0)
		return;
	if (strncmp(req, "GET /metrics", 12) == 0 && strchr(" ?", req[12])) {
		m = body(arg);
		if (m)
			answer_type(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", m);
		else
			answer(c, "500 Internal Server Error", "could not build the metrics\n");
		free(m);
	} else if (n > 0) {
		answer(c, "404 Not Found", "only /metrics here\n");
	}
	close(c);
}

void healthz_serve(int fd, bool ready)
{
	char req[1024];
	ssize_t n;
	int c = take_request(fd, req, sizeof(req), &n);

	if (c < 0)
		return;
	/* The path alone: "GET /readyz HTTP/1.1" or "GET /readyz?verbose ..." */
	if (strncmp(req, "GET /healthz", 12) == 0 && strchr(" ?", req[12]))
		answer(c, "200 OK", "ok\n");
	else if (strncmp(req, "GET /readyz", 11) == 0 && strchr(" ?", req[11]))
		answer(c, ready ? "200 OK" : "503 Service Unavailable",
		       ready ? "ok\n" : "not ready: the first sync is not applied yet\n");
	else if (n > 0)
		answer(c, "404 Not Found", "only /healthz and /readyz here\n");
	close(c);
}
