/* pidlock.c - one process per file: an flock'd lock file holding its PID. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "base/pidlock.h"

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;
	long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	return errno || end == buf || v <= 0 || v > INT_MAX ? 0 : (pid_t)v;
}

int pidlock_take(const char *path, int *fd, pid_t *holder)
{
	char pid[32];
	int f, len, saved;

	*holder = 0;
	if (path_mkdir_parents(path) < 0)
		return -1;
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0)
		return -1;
	if (flock(f, LOCK_EX | LOCK_NB) < 0) {
		saved = errno;
		if (saved == EWOULDBLOCK)
			*holder = read_pid(f);
		close(f);
		errno = saved;
		return -1;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) < 0 || pwrite(f, pid, (size_t)len, 0) != len) {
		saved = errno;
		close(f);
		errno = saved;
		return -1;
	}
	*fd = f;
	return 0;
}
