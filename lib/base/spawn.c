/* spawn.c - start a child with posix_spawn, wait for it with a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/spawn.h"
#include "base/timefmt.h"

#define GRACE_DEFAULT_MS 1000
/* Without a pidfd the child is polled for at this interval. */
#define POLL_SLICE_MS 100

extern char **environ;

int memfd_with(const char *name, const char *data, size_t len)
{
	size_t off = 0;
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return fd;
fail:
	off = (size_t)errno;
	close(fd);
	errno = (int)off;
	return -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void spawn_init(struct spawn *sp, const char *path, char *const argv[])
{
	memset(sp, 0, sizeof(*sp));
	sp->path = path;
	sp->argv = argv;
	for (int i = 0; i < 3; i++)
		sp->fd[i] = sp->pipe[i] = -1;
	sp->fd3 = sp->fd4 = -1;
}

/* The file actions: fds 0..2 from src (-1: left as ours), 3 and 4 from fd3
 * and fd4 when set (both > 4: no dup2 clobbers the other), nothing else open. */
static int wire_fds(posix_spawn_file_actions_t *fa, const int src[3], bool err_is_out, int fd3,
		    int fd4)
{
	int rc = 0;

	for (int i = 0; i < 3 && !rc; i++)
		if (src[i] >= 0)
			rc = posix_spawn_file_actions_adddup2(fa, src[i], i);
	if (!rc && err_is_out)
		rc = posix_spawn_file_actions_adddup2(fa, 1, 2);
	if (!rc && fd3 >= 0)
		rc = posix_spawn_file_actions_adddup2(fa, fd3, 3);
	else if (!rc && fd4 >= 0)
		rc = posix_spawn_file_actions_addclose(fa, 3); /* not open: glibc ignores it */
	if (!rc && fd4 >= 0)
		rc = posix_spawn_file_actions_adddup2(fa, fd4, 4);
	return rc ? rc : posix_spawn_file_actions_addclosefrom_np(fa, fd4 >= 0 ? 5 : fd3 >= 0 ? 4 : 3);
}

/* Default signal dispositions, none blocked, and maybe a group of its own. */
static int set_attrs(posix_spawnattr_t *at, bool new_group)
{
	short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
	sigset_t all, none;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	if (new_group)
		flags |= POSIX_SPAWN_SETPGROUP;
	rc = posix_spawnattr_setflags(at, flags);
	rc = rc ? rc : posix_spawnattr_setsigdefault(at, &all);
	rc = rc ? rc : posix_spawnattr_setsigmask(at, &none);
	return rc ? rc : posix_spawnattr_setpgroup(at, 0);
}

/* posix_spawn itself: 0, -1 (attributes), or SPAWN_EXEC_FAILED, with errno. */
static int do_spawn(struct spawn *sp, const int src[3])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int rc = -1, err;

	if ((err = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	if ((err = posix_spawnattr_init(&at)) != 0)
		goto out_fa;
	err = wire_fds(&fa, src, sp->fd[2] == SPAWN_STDOUT, sp->fd3, sp->fd4);
	err = err ? err : set_attrs(&at, sp->new_group);
	if (!err) {
		/* glibc runs the exec before it returns: a failed exec's errno is ours. */
		rc = SPAWN_EXEC_FAILED;
		err = (sp->search ? posix_spawnp : posix_spawn)(
			&sp->pid, sp->path, &fa, &at, sp->argv, sp->envp ? sp->envp : environ);
	}
	posix_spawnattr_destroy(&at);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
out:
	errno = err;
	return err ? rc : 0;
}

int spawn_start(struct spawn *sp)
{
	int src[3] = { -1, -1, -1 }, child[3] = { -1, -1, -1 }, rc = -1, saved;

	sp->pid = -1;
	if (sp->fd[0] == SPAWN_PIPE || sp->fd[0] == SPAWN_STDOUT || sp->fd[1] == SPAWN_STDOUT) {
		errno = EINVAL;
		return -1;
	}
	if (sp->in && (child[0] = memfd_with("flannel-stdin", sp->in, sp->in_len)) < 0)
		goto out;
	for (int i = 1; i < 3; i++) {
		int p[2];

		if (sp->fd[i] != SPAWN_PIPE)
			continue;
		if (pipe2(p, O_CLOEXEC) < 0)
			goto out;
		sp->pipe[i] = p[0];
		child[i] = p[1];
	}
	for (int i = 0; i < 3; i++)
		src[i] = child[i] >= 0 ? child[i] : sp->fd[i] >= 0 ? sp->fd[i] : -1;
	rc = do_spawn(sp, src);
out:
	saved = errno;
	for (int i = 0; i < 3; i++) {
		close_fd(&child[i]);
		if (rc != 0)
			close_fd(&sp->pipe[i]);
	}
	errno = saved;
	return rc;
}

/* Read what pipe *fd has into b (NULL: dropped); closed at EOF. */
static void drain(int *fd, struct buf *b)
{
	char chunk[8192];

	for (;;) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* EAGAIN: nothing more for now */
		if (n == 0) {
			close_fd(fd);
			return;
		}
		/* Past the cap or out of memory the child is still read, so it never blocks. */
		if (b)
			buf_add(b, chunk, (size_t)n);
	}
}

/* What the wait loop keeps between rounds. */
struct waiting {
	int pidfd;       /* -1 when the kernel has no pidfd_open */
	bool exited;
	int64_t kill_at; /* when to send SIGKILL; 0: not yet signalled */
};

static void end_child(const struct spawn *sp, int sig)
{
	kill(sp->new_group ? -sp->pid : sp->pid, sig);
}

/* Timeout or cancel: SIGTERM now, SIGKILL after the grace time. */
static void signal_child(const struct spawn *sp, struct waiting *c, int64_t now, int64_t grace)
{
	if (!c->kill_at) {
		end_child(sp, SIGTERM);
		c->kill_at = now + grace;
	} else if (now >= c->kill_at) {
		end_child(sp, SIGKILL);
		c->kill_at = INT64_MAX;
	}
}

static int poll_wait_ms(const struct waiting *c, int64_t now, int64_t deadline)
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

static int reap(const struct spawn *sp, struct waiting *c, struct spawn_wait *w, int flags)
{
	pid_t r;

	do
		r = waitpid(sp->pid, &w->status, flags);
	while (r < 0 && errno == EINTR);
	if (r == sp->pid)
		c->exited = true;
	return r < 0 ? -1 : 0;
}

/* One round: the pipes and the pidfd (while it runs) polled, then read;
 * -1 when poll itself fails. */
static int poll_round(struct spawn *sp, struct waiting *c, struct spawn_wait *w, int ms)
{
	struct pollfd p[3] = { { .fd = sp->pipe[1], .events = POLLIN },
			       { .fd = sp->pipe[2], .events = POLLIN },
			       { .fd = c->exited ? -1 : c->pidfd, .events = POLLIN } };
	struct timespec ts, *tp = NULL;
	int n;

	if (ms >= 0) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		tp = &ts;
	}
	n = ppoll(p, 3, tp, w->sigmask);
	if (n <= 0)
		return n < 0 && errno != EINTR ? -1 : 0;
	for (int i = 1; i < 3; i++)
		if (sp->pipe[i] >= 0 && p[i - 1].revents)
			drain(&sp->pipe[i], w->out[i]);
	return 0;
}

int spawn_wait(struct spawn *sp, struct spawn_wait *w)
{
	struct waiting c = { .pidfd = (int)syscall(SYS_pidfd_open, sp->pid, 0) };
	int64_t start = mono_ms(), grace = w->grace_ms > 0 ? w->grace_ms : GRACE_DEFAULT_MS;
	int64_t deadline = w->timeout_ms > 0 ? start + w->timeout_ms : 0;
	int rc = 0, saved;

	w->status = 0;
	w->timed_out = w->cancelled = false;
	for (int i = 1; i < 3; i++)
		if (sp->pipe[i] >= 0)
			fcntl(sp->pipe[i], F_SETFL, O_NONBLOCK);
	while (!c.exited) {
		int64_t now = mono_ms();

		if (w->cancel && *w->cancel && !w->timed_out)
			w->cancelled = true;
		if (deadline && now >= deadline && !w->cancelled)
			w->timed_out = true;
		if (w->timed_out || w->cancelled)
			signal_child(sp, &c, now, grace);
		poll_round(sp, &c, w, poll_wait_ms(&c, now, deadline));
		if ((rc = reap(sp, &c, w, WNOHANG)) < 0)
			break;
	}
	/* What is already there; grandchildren may hold the pipes open. */
	for (int i = 1; i < 3; i++)
		if (sp->pipe[i] >= 0)
			drain(&sp->pipe[i], w->out[i]);
	while (w->until_eof && (sp->pipe[1] >= 0 || sp->pipe[2] >= 0))
		if (poll_round(sp, &c, w, -1) < 0)
			break;
	if (sp->new_group && (w->timed_out || w->cancelled))
		kill(-sp->pid, SIGKILL); /* stragglers of the group */
	saved = errno;
	close_fd(&c.pidfd);
	close_fd(&sp->pipe[1]);
	close_fd(&sp->pipe[2]);
	errno = saved;
	return rc;
}
