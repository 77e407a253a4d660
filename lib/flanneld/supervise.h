/* supervise.h - run the pieces as child processes joined by pipes, and
 * restart what dies (flanneld). */
#ifndef FLANNEL_SUPERVISE_H
#define FLANNEL_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PIECE_ARGS 48

struct piece {
	char name[32];            /* for messages: "lease", "watch", "apply" */
	char *argv[PIECE_ARGS];   /* argv[0] is the program path; owned strings */
	int argc;
	int group;                /* pieces of one group restart together */
	bool capture_stdout;      /* stdout into out_fd for the supervisor */
	int out_fd;               /* read end of a captured stdout, or -1 */
	pid_t pid;                /* 0 when not running */
	pid_t last_pid;           /* the pid it had when it last ran */
	int64_t backoff_ms, restart_at_ms, started_ms;
	int status;               /* last wait status */
	unsigned restarts;
};

struct supervisor {
	struct piece *pieces;
	int n;
	char **envp;              /* environment for the children */
	int secret_fd;            /* > 4: every child gets it as its fd 3 (the etcd password) */
	int user_fd;              /* > 4: and this as its fd 4 (the etcd user name) */
	int notify_fd;            /* our own notify socket (-1 when none) */
	char notify_name[108];    /* its abstract name, "@flanneld-<pid>" */
};

/* Add an argument; returns -1 when the vector is full or on ENOMEM. */
int piece_arg(struct piece *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void piece_clear(struct piece *p);
/* The pieces of one group are started together, each one's stdout piped
 * into the next one's stdin (a shell pipeline). Returns 0 or -1 (errno). */
int supervise_start_group(struct supervisor *s, int group);
/* Run one piece to completion, its stdout captured into buf; returns the
 * wait status, or -1 (errno). */
int supervise_run_capture(struct supervisor *s, struct piece *p, char *buf, size_t len);
/* SIGTERM to every running piece, then SIGKILL after grace_ms. */
void supervise_stop_all(struct supervisor *s, int grace_ms);
/* Reap dead children; returns the piece that died (or NULL); *status. */
struct piece *supervise_reap(struct supervisor *s, int *status);
/* The pieces, their pids and restarts, into flanneld's state file. */
struct state;
void supervise_publish(const struct supervisor *s, struct state *st);
/* A child notify socket so that pieces' READY=1 reaches us. */
int supervise_notify_open(struct supervisor *s);
/* Read one datagram from the notify socket into buf (NUL-terminated);
 * *from is the sender's pid (0 when unknown). */
int supervise_notify_read(struct supervisor *s, char *buf, size_t len, pid_t *from);

#endif
