/* path.h - file-system paths. */
#ifndef FLANNEL_PATH_H
#define FLANNEL_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Create the directories above path's last component (mode 0755), as
 * mkdir -p of its dirname: 0, or -1 with errno. */
int path_mkdir_parents(const char *path);

/*
 * Replace path with len bytes of data as one rename: a hidden temporary
 * beside it (".NAME.PID"), written, fsync'd when sync, renamed over path.
 * The directories above are created.  0, or -1 with errno (no temporary
 * is left behind).
 */
int path_write_atomic(const char *path, const void *data, size_t len, unsigned mode, bool sync);
/* The same with the contents written by fill(fd, arg), 0 or -1 with errno:
 * what is too large to hold in memory at once. */
int path_replace(const char *path, unsigned mode, bool sync, int (*fill)(int fd, void *arg),
		 void *arg);
/* All of buf to fd (EINTR retried): 0, or -1 with errno. */
int path_write_all(int fd, const void *buf, size_t len);

#endif
