/* cmdrun.c - one shell command, its output, its timeout, its process group. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/buf.h"
#include "base/cmdrun.h"
#include "base/spawn.h"
#include "base/timefmt.h"

#define OUTPUT_MAX_DEFAULT 65536

void cmdrun_result_clear(struct cmdrun_result *r)
{
	free(r->output);
	memset(r, 0, sizeof(*r));
}

bool cmdrun_ok(const struct cmdrun_result *r)
{
	return !r->timed_out && !r->cancelled && WIFEXITED(r->status) &&
	       WEXITSTATUS(r->status) == 0;
}

const char *cmdrun_describe(const struct cmdrun_result *r, char *buf, size_t len)
{
	const char *why = r->timed_out ? " after timeout" : r->cancelled ? " on shutdown" : "";

	if (WIFEXITED(r->status))
		snprintf(buf, len, "exit status %d%s", WEXITSTATUS(r->status), why);
	else if (WIFSIGNALED(r->status))
		snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(r->status),
			 sigabbrev_np(WTERMSIG(r->status)) ? sigabbrev_np(WTERMSIG(r->status))
							   : "?",
			 why);
	else
		snprintf(buf, len, "wait status %#x%s", (unsigned)r->status, why);
	return buf;
}

int cmdrun_shell(const char *cmd, char *const envp[], const char *in, size_t inlen,
		 const struct cmdrun_opts *o, struct cmdrun_result *r)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	struct buf out = { .max = o->output_max ? o->output_max : OUTPUT_MAX_DEFAULT };
	struct spawn_wait w = { .timeout_ms = o->timeout_ms, .grace_ms = o->grace_ms,
				.cancel = o->cancel, .out = { NULL, &out, NULL } };
	struct spawn sp;
	sigset_t block, old;
	int rc = -1, saved;
	int64_t start = mono_ms();

	memset(r, 0, sizeof(*r));
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	w.sigmask = &old;
	if (o->cancel && *o->cancel) {
		errno = ECANCELED;
		goto out;
	}
	/* All the room up front: reading the output allocates nothing. */
	if (buf_reserve(&out, out.max) < 0)
		goto out;
	spawn_init(&sp, CMDRUN_SHELL, argv);
	sp.envp = envp;
	sp.new_group = true;
	sp.in = in ? in : "";
	sp.in_len = inlen;
	sp.fd[1] = SPAWN_PIPE;
	sp.fd[2] = SPAWN_STDOUT;
	if (spawn_start(&sp) != 0)
		goto out;
	spawn_wait(&sp, &w);
	r->status = w.status;
	r->timed_out = w.timed_out;
	r->cancelled = w.cancelled;
	r->truncated = out.truncated;
	r->output_len = out.len;
	r->output = buf_take(&out);
	r->elapsed_ms = mono_ms() - start;
	rc = 0;
out:
	saved = errno;
	buf_free(&out);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}
