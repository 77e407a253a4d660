/* healthz.c - a tiny HTTP/1.0 answer for health checks, nothing more. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
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
		snprintf(err, errlen, "--healthz-ip %s: not an IP address", ip);
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

static void answer(int c, const char *status, const char *body)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 status, strlen(body), body);

	if (n > 0 && (size_t)n < sizeof(buf) && send(c, buf, (size_t)n, MSG_NOSIGNAL) < 0)
		log_debug("healthz: send: %s", strerror(errno));
}

void healthz_serve(int fd, bool ready)
{
	struct pollfd p;
	char req[1024];
	ssize_t n = 0;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, 200) == 1)
		n = recv(c, req, sizeof(req) - 1, MSG_DONTWAIT);
	req[n > 0 ? n : 0] = '\0';
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
