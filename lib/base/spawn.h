/* spawn.h - the one way to start a child process: posix_spawn with an
 * explicit argv and environment, its stdin, stdout and stderr wired as
 * asked, optionally in a process group of its own; and the one wait, which
 * collects what it prints and ends it (SIGTERM to it or its group, SIGKILL
 * after a grace time) when it outlives a timeout or is cancelled. */
#ifndef FLANNEL_SPAWN_H
#define FLANNEL_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"

/* What fd[i] can say besides one of our own descriptors. */
#define SPAWN_INHERIT (-1) /* the child has our own fd i */
#define SPAWN_PIPE (-2)    /* fd 1 or 2: a new pipe the child writes, we read pipe[i] */
#define SPAWN_STDOUT (-3)  /* fd 2: the same as the child's stdout */

/* Exit status of a child that could not be run, as a shell reports it. */
#define SPAWN_EXEC_FAILED (-2)

/*
 * The child starts with every signal at its default and none blocked (our
 * signalfd mask and ignored SIGPIPE are not its business), and with only
 * fds 0, 1 and 2 open (and 3 and 4 when fd3 and fd4 are set).
 */
struct spawn {
	const char *path;  /* the program */
	char *const *argv; /* with argv[0] */
	char *const *envp; /* its whole environment; NULL: ours */
	bool search;       /* look a path without '/' up in PATH */
	bool new_group;    /* a group of its own: a timeout reaches grandchildren */
	const char *in;    /* when set: in_len bytes in a memory file as stdin */
	size_t in_len;
	int fd[3];         /* the child's stdin, stdout, stderr: our fd or SPAWN_* */
	int fd3;           /* >= 0: our fd the child gets as its fd 3 (flanneld's
			    * etcd password); -1 (spawn_init): none */
	int fd4;           /* the same as its fd 4 (the etcd user name) */
	pid_t pid;         /* the child, once started */
	int pipe[3];       /* our read end where fd[i] is SPAWN_PIPE, else -1 */
};

/* Every fd inherited, no input, no group, our environment. */
void spawn_init(struct spawn *sp, const char *path, char *const argv[]);
/*
 * Start it: 0 with sp->pid; -1 with errno when a pipe or the memory file
 * could not be made; SPAWN_EXEC_FAILED with errno when the program could
 * not be run (ENOENT, EACCES, ETXTBSY...).
 */
int spawn_start(struct spawn *sp);

struct spawn_wait {
	int64_t timeout_ms; /* 0: as long as it runs */
	int64_t grace_ms;   /* from SIGTERM to SIGKILL; 0: 1000 */
	/* Set by the caller's signal handler: end the child and return. */
	const volatile sig_atomic_t *cancel;
	/* The signal mask while blocked in ppoll(2); NULL: the current one. */
	const sigset_t *sigmask;
	struct buf *out[3]; /* where pipe[1] and pipe[2] go; NULL: dropped */
	bool until_eof;     /* after the exit read on until the pipes close, as Go does */
	/* The outcome. */
	int status; /* waitpid(2) status */
	bool timed_out, cancelled;
};

/* Wait for sp's child, reading its pipes meanwhile, and close them: 0, or
 * -1 with errno when it cannot be waited for. */
int spawn_wait(struct spawn *sp, struct spawn_wait *w);

/* A memory file holding len bytes of data, positioned at its start: a
 * child reads it as stdin and we never block.  -1 with errno. */
int memfd_with(const char *name, const char *data, size_t len);

#endif
