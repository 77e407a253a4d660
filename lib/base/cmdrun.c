/* cmdrun.c - one shell command, its output, its timeout, its process group. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cmdrun.h"
#include "base/mem.h"
#include "base/subproc.h"
#include "base/timefmt.h"

#define OUTPUT_MAX_DEFAULT 65536
#define GRACE_DEFAULT_MS 1000
/* Without a pidfd the child is polled for at this interval. */
#define POLL_SLICE_MS 100

/* What one running child needs while it is waited for. */
struct child {
	pid_t pid;
	int out;     /* read end of the output pipe; -1 once at EOF */
	int pidfd;   /* -1 when the kernel has no pidfd_open */
	bool exited;
	int64_t kill_at;  /* when to send SIGKILL; 0: not yet signalled */
};

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

static int spawn_shell(const char *cmd, char *const envp[], int in, int out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	if ((rc = posix_spawnattr_init(&at)) != 0)
		goto out_fa;
	/* A group of its own, so a timeout reaches grandchildren too; default
	 * signal dispositions, so our ignored SIGPIPE is not inherited. */
	rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETSIGMASK);
	rc = rc ? rc : posix_spawnattr_setpgroup(&at, 0);
	rc = rc ? rc : posix_spawnattr_setsigdefault(&at, &all);
	rc = rc ? rc : posix_spawnattr_setsigmask(&at, &none);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, in, 0);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, out, 1);
	rc = rc ? rc : posix_spawn_file_actions_adddup2(&fa, out, 2);
	rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = rc ? rc : posix_spawn(pid, CMDRUN_SHELL, &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
out:
	if (rc)
		errno = rc;
	return rc ? -1 : 0;
}

static void read_output(struct child *c, struct cmdrun_result *r, size_t max)
{
	char scratch[4096];

	for (;;) {
		size_t room = r->output_len < max ? max - r->output_len : 0;
		char *dst = room ? r->output + r->output_len : scratch;
		ssize_t n = read(c->out, dst, room ? room : sizeof(scratch));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN: nothing more for now */
		if (n == 0) {
			close(c->out);
			c->out = -1;
			return;
		}
		if (room)
			r->output_len += (size_t)n;
		else
			r->truncated = true;
	}
}

static void reap(struct child *c, struct cmdrun_result *r, int flags)
{
	pid_t w;

	do
		w = waitpid(c->pid, &r->status, flags);
	while (w < 0 && errno == EINTR);
	if (w == c->pid)
		c->exited = true;
}

/* Timeout or cancel: SIGTERM to the group now, SIGKILL after the grace time. */
static void signal_group(struct child *c, int64_t now, int64_t grace)
{
	if (!c->kill_at) {
		kill(-c->pid, SIGTERM);
		c->kill_at = now + grace;
	} else if (now >= c->kill_at) {
		kill(-c->pid, SIGKILL);
		c->kill_at = INT64_MAX;
	}
}

static int poll_wait_ms(const struct child *c, int64_t now, int64_t deadline)
{
	int64_t t = -1;

	if (c->kill_at && c->kill_at != INT64_MAX)
		t = c->kill_at - now;
	else if (!c->kill_at && deadline)
		t = deadline - now;
	if (c->pidfd < 0 && (t < 0 || t > POLL_SLICE_MS))
		t = POLL_SLICE_MS;
	return t < 0 ? -1 : (int)(t > 0 ? t : 0);
}

static void wait_child(struct child *c, const struct cmdrun_opts *o, struct cmdrun_result *r,
		       const sigset_t *waitmask, int64_t start)
{
	int64_t deadline = o->timeout_ms > 0 ? start + o->timeout_ms : 0;
	int64_t grace = o->grace_ms > 0 ? o->grace_ms : GRACE_DEFAULT_MS;
	size_t max = o->output_max ? o->output_max : OUTPUT_MAX_DEFAULT;

	while (!c->exited) {
		struct pollfd p[2] = { { .fd = c->out, .events = POLLIN },
				       { .fd = c->pidfd, .events = POLLIN } };
		int64_t now = mono_ms();
		struct timespec ts, *tp = NULL;
		int ms;

		if (o->cancel && *o->cancel && !r->timed_out)
			r->cancelled = true;
		if (deadline && now >= deadline && !r->cancelled)
			r->timed_out = true;
		if (r->timed_out || r->cancelled)
			signal_group(c, now, grace);
		ms = poll_wait_ms(c, now, deadline);
		if (ms >= 0) {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			tp = &ts;
		}
		if (ppoll(p, 2, tp, waitmask) > 0 && c->out >= 0 && p[0].revents)
			read_output(c, r, max);
		reap(c, r, WNOHANG);
	}
	if (c->out >= 0)
		read_output(c, r, max); /* what is already there; grandchildren may hold it open */
	if (r->timed_out || r->cancelled)
		kill(-c->pid, SIGKILL); /* stragglers of the group */
}

static int open_output(int pfd[2])
{
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	return 0;
}

int cmdrun_shell(const char *cmd, char *const envp[], const char *in, size_t inlen,
		 const struct cmdrun_opts *o, struct cmdrun_result *r)
{
	struct child c = { .pid = -1, .out = -1, .pidfd = -1 };
	sigset_t block, old;
	int in_fd = -1, pfd[2] = { -1, -1 }, rc = -1, saved;
	int64_t start = mono_ms();

	memset(r, 0, sizeof(*r));
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (o->cancel && *o->cancel) {
		errno = ECANCELED;
		goto out;
	}
	r->output = fl_malloc((o->output_max ? o->output_max : OUTPUT_MAX_DEFAULT) + 1);
	if (!r->output) {
		errno = ENOMEM;
		goto out;
	}
	if ((in_fd = memfd_with("flannel-stdin", in, inlen)) < 0 || open_output(pfd) < 0)
		goto out;
	if (spawn_shell(cmd, envp, in_fd, pfd[1], &c.pid) < 0)
		goto out;
	close(pfd[1]);
	pfd[1] = -1;
	c.out = pfd[0];
	pfd[0] = -1;
	c.pidfd = (int)syscall(SYS_pidfd_open, c.pid, 0);
	wait_child(&c, o, r, &old, start);
	r->output[r->output_len] = '\0';
	r->elapsed_ms = mono_ms() - start;
	rc = 0;
out:
	saved = errno;
	if (c.out >= 0)
		close(c.out);
	if (c.pidfd >= 0)
		close(c.pidfd);
	for (int i = 0; i < 2; i++)
		if (pfd[i] >= 0)
			close(pfd[i]);
	if (in_fd >= 0)
		close(in_fd);
	if (rc < 0) {
		free(r->output);
		r->output = NULL;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}
