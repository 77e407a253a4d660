/* pidlock.h - one process per file: an flock'd lock file holding its PID. */
#ifndef FLANNEL_PIDLOCK_H
#define FLANNEL_PIDLOCK_H

#include <sys/types.h>

/*
 * Take the lock at path (created 0644 with its directory) for as long as the
 * process lives: the fd is kept open, close-on-exec.  0 with *fd; -1 with
 * errno (EWOULDBLOCK: another process holds it, *holder its PID as the file
 * says, 0 when unknown).
 */
int pidlock_take(const char *path, int *fd, pid_t *holder);

#endif
