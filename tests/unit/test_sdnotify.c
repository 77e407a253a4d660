/* sd_notify over real AF_UNIX datagram sockets: path and abstract. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sdnotify.h"
#include "tap.h"

/* Bind a datagram socket at NAME ('@' = abstract); returns the fd or -1. */
static int listener(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	size_t n = strlen(name);
	socklen_t len;
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || n >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	if (bind(fd, (struct sockaddr *)&sun, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one datagram into BUF; "" on timeout or error. */
static const char *recv_one(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/fl-sdnotify.XXXXXX", path[108], abs[64], buf[256];
	char longp[200];
	int fd, rc;

	ok(sd_notify_send(NULL, "READY=1") == 0, "NULL socket: nothing, 0");
	ok(sd_notify_send("", "READY=1") == 0, "empty socket: nothing, 0");

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	ok(fd >= 0, "bind path socket");
	is_int(sd_notify_send(path, "READY=1"), 0, "send to path socket");
	is_str(recv_one(fd, buf, sizeof(buf)), "READY=1", "path socket got READY=1");
	is_int(sd_notify_send(path, "READY=1\nSTATUS=synced 3 leases"), 0,
	       "send two assignments");
	is_str(recv_one(fd, buf, sizeof(buf)), "READY=1\nSTATUS=synced 3 leases",
	       "one datagram with both lines");
	close(fd);
	unlink(path);

	errno = 0;
	rc = sd_notify_send(path, "READY=1");
	ok(rc == -1 && (errno == ENOENT || errno == ECONNREFUSED),
	   "nobody listening: -1, errno %d", errno);

	snprintf(abs, sizeof(abs), "@fl-sdnotify-test-%ld", (long)getpid());
	fd = listener(abs);
	ok(fd >= 0, "bind abstract socket");
	is_int(sd_notify_send(abs, "STOPPING=1"), 0, "send to abstract socket");
	is_str(recv_one(fd, buf, sizeof(buf)), "STOPPING=1", "abstract socket got it");
	close(fd);

	errno = 0;
	ok(sd_notify_send("relative/sock", "READY=1") == -1 && errno == EINVAL,
	   "relative path: EINVAL");
	errno = 0;
	ok(sd_notify_send("@", "READY=1") == -1 && errno == EINVAL,
	   "bare '@': EINVAL");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	errno = 0;
	ok(sd_notify_send(longp, "READY=1") == -1 && errno == EINVAL,
	   "path longer than sun_path: EINVAL");
	errno = 0;
	ok(sd_notify_send(path, NULL) == -1 && errno == EINVAL, "NULL state: EINVAL");

	rmdir(dir);
	return tap_done();
}
