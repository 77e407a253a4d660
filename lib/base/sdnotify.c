/* sdnotify.c - one datagram to $NOTIFY_SOCKET, as sd_notify(3) describes. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sdnotify.h"

/* Fill SUN from PATH; returns the address length, or -1 with EINVAL. */
static int sd_notify_addr(const char *path, struct sockaddr_un *sun)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((path[0] != '/' && path[0] != '@') || n < 2 ||
	    n > sizeof(sun->sun_path)) {
		errno = EINVAL;
		return -1;
	}
	/* A path socket needs room for its terminating NUL. */
	if (path[0] == '/' && n == sizeof(sun->sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sun->sun_path, path, n);
	/* Abstract: leading NUL, and the length counts exactly the name. */
	if (path[0] == '@')
		sun->sun_path[0] = '\0';
	return (int)(offsetof(struct sockaddr_un, sun_path) + n +
		     (path[0] == '/'));
}

int sd_notify_send(const char *socket_path, const char *state)
{
	struct sockaddr_un sun;
	int fd, len, saved, rc = -1;
	ssize_t sent;

	if (!socket_path || !*socket_path)
		return 0;
	if (!state) {
		errno = EINVAL;
		return -1;
	}
	len = sd_notify_addr(socket_path, &sun);
	if (len < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		      (struct sockaddr *)&sun, (socklen_t)len);
	if (sent < 0)
		goto out;
	if ((size_t)sent != strlen(state)) {
		errno = EMSGSIZE;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

void sd_notify_ready(void *socket_path)
{
	if (sd_notify_send(socket_path, "READY=1") < 0)
		log_warn("notify systemd at %s: %s", (const char *)socket_path, strerror(errno));
}
