/* cmdrun.h - run one "/bin/sh -c CMD" with a given environment and stdin,
 * capture its combined output, and kill its whole process group when it
 * outlives its timeout. */
#ifndef FLANNEL_CMDRUN_H
#define FLANNEL_CMDRUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDRUN_SHELL "/bin/sh"

struct cmdrun_opts {
	int64_t timeout_ms;  /* 0: wait forever */
	int64_t grace_ms;    /* from SIGTERM to SIGKILL of the group; 0: 1000 */
	size_t output_max;   /* bytes of output kept; 0: 65536 */
	/* Set by the caller's signal handler: kill the group and return. */
	const volatile sig_atomic_t *cancel;
};

struct cmdrun_result {
	int status;        /* waitpid(2) status of the shell */
	bool timed_out;    /* killed because of timeout_ms */
	bool cancelled;    /* killed because *cancel was set */
	char *output;      /* combined stdout and stderr, NUL-terminated */
	size_t output_len;
	bool truncated;    /* more output than output_max was dropped */
	int64_t elapsed_ms;
};

/*
 * Run CMDRUN_SHELL -c cmd in a process group of its own, with envp as its
 * whole environment and the in bytes (a file, so it can read at will) as its
 * stdin.  Returns 0 when the shell ran (look at r), -1 with errno when it
 * could not be started.  SIGTERM, SIGINT and SIGHUP are blocked except while
 * waiting, so a handler that sets *cancel is seen without a race.
 */
int cmdrun_shell(const char *cmd, char *const envp[], const char *in, size_t inlen,
		 const struct cmdrun_opts *o, struct cmdrun_result *r);
void cmdrun_result_clear(struct cmdrun_result *r);
/* Exit status 0, not timed out, not cancelled. */
bool cmdrun_ok(const struct cmdrun_result *r);
/* "exit status 2", "killed by signal 9 (SIGKILL) after timeout 2000 ms", ... */
const char *cmdrun_describe(const struct cmdrun_result *r, char *buf, size_t len);

#endif
