/* supervise.c - the pieces as children, pipes between them, restarts. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/spawn.h"
#include "base/timefmt.h"
#include "flanneld/supervise.h"
#include "status/state.h"

int piece_arg(struct piece *p, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	if (p->argc >= PIECE_ARGS - 1) {
		errno = E2BIG;
		return -1;
	}
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = E2BIG;
		return -1;
	}
	p->argv[p->argc] = fl_strdup(buf);
	if (!p->argv[p->argc])
		return -1;
	p->argv[++p->argc] = NULL;
	return 0;
}

void piece_clear(struct piece *p)
{
	for (int i = 0; i < p->argc; i++)
		free(p->argv[i]);
	if (p->out_fd >= 0)
		close(p->out_fd);
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
}

/* Start one piece with stdin from in (-1: ours) and, when piped, its stdout
 * into a new pipe whose read end is sp->pipe[1]. */
static int spawn_piece(struct supervisor *s, struct piece *p, int in, bool piped,
		       struct spawn *sp)
{
	spawn_init(sp, p->argv[0], p->argv);
	sp->envp = s->envp;
	if (s->secret_fd > 4)
		sp->fd3 = s->secret_fd;
	if (s->user_fd > 4)
		sp->fd4 = s->user_fd;
	sp->fd[0] = in;
	if (piped)
		sp->fd[1] = SPAWN_PIPE;
	if (spawn_start(sp) != 0) {
		int saved = errno;

		log_err("run %s: %s", p->argv[0], strerror(saved));
		errno = saved;
		return -1;
	}
	p->pid = sp->pid;
	p->started_ms = mono_ms();
	log_info("started %s (pid %d): %s", p->name, (int)sp->pid, p->argv[0]);
	return 0;
}

int supervise_start_group(struct supervisor *s, int group)
{
	int in = -1;

	for (int i = 0; i < s->n; i++) {
		struct piece *p = &s->pieces[i];
		struct spawn sp;
		bool last = true;
		int out;

		if (p->group != group)
			continue;
		for (int j = i + 1; j < s->n; j++)
			if (s->pieces[j].group == group)
				last = false;
		if (spawn_piece(s, p, in, !last || p->capture_stdout, &sp) < 0)
			goto fail;
		out = sp.pipe[1];
		if (in >= 0)
			close(in);
		in = -1;
		if (out >= 0 && last) {
			if (p->out_fd >= 0)
				close(p->out_fd);
			p->out_fd = out;
		} else {
			in = out;
		}
	}
	return 0;
fail:
	if (in >= 0) {
		int saved = errno;

		close(in);
		errno = saved;
	}
	return -1;
}

int supervise_run_capture(struct supervisor *s, struct piece *p, char *buf, size_t len)
{
	struct buf out = { .max = len - 1 };
	struct spawn sp;
	struct spawn_wait w = { .out = { NULL, &out, NULL }, .until_eof = true };
	int rc;

	if (spawn_piece(s, p, -1, true, &sp) < 0)
		return -1;
	rc = spawn_wait(&sp, &w);
	p->pid = 0;
	snprintf(buf, len, "%s", out.data && !out.failed ? out.data : "");
	buf_free(&out);
	return rc < 0 ? -1 : w.status;
}

void supervise_stop_all(struct supervisor *s, int grace_ms)
{
	int64_t deadline = mono_ms() + grace_ms;
	int running;

	for (int i = 0; i < s->n; i++)
		if (s->pieces[i].pid > 0)
			kill(s->pieces[i].pid, SIGTERM);
	do {
		running = 0;
		for (int i = 0; i < s->n; i++) {
			struct piece *p = &s->pieces[i];

			if (p->pid > 0 && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
				p->pid = 0;
			running += p->pid > 0;
		}
		if (running)
			poll(NULL, 0, 20);
	} while (running && mono_ms() < deadline);
	for (int i = 0; i < s->n; i++) {
		struct piece *p = &s->pieces[i];

		if (p->pid > 0) {
			log_warn("%s (pid %d) ignored SIGTERM: killing it", p->name, (int)p->pid);
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			p->pid = 0;
		}
	}
}

struct piece *supervise_reap(struct supervisor *s, int *status)
{
	pid_t pid = waitpid(-1, status, WNOHANG);

	if (pid <= 0)
		return NULL;
	for (int i = 0; i < s->n; i++)
		if (s->pieces[i].pid == pid) {
			s->pieces[i].last_pid = pid;
			s->pieces[i].pid = 0;
			s->pieces[i].status = *status;
			return &s->pieces[i];
		}
	return NULL;
}

int supervise_notify_open(struct supervisor *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	snprintf(s->notify_name, sizeof(s->notify_name), "@flanneld-%d", (int)getpid());
	/* Abstract namespace: a leading NUL instead of the '@'. */
	memcpy(sa.sun_path + 1, s->notify_name + 1, strlen(s->notify_name) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(s->notify_name));
	/* Credentials tell which piece sent a READY=1. */
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int)) < 0) {
		close(fd);
		return -1;
	}
	s->notify_fd = fd;
	return 0;
}

int supervise_notify_read(struct supervisor *s, char *buf, size_t len, pid_t *from)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
			     .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(s->notify_fd, &mh, 0);

	*from = 0;
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*from = cred.pid;
		}
	return (int)n;
}

void supervise_publish(const struct supervisor *s, struct state *st)
{
	json_t *a = st ? json_array() : NULL;
	unsigned long restarts = 0;

	if (!a)
		return;
	for (int i = 0; i < s->n; i++) {
		const struct piece *p = &s->pieces[i];
		const char *tool = p->argv[0] ? strrchr(p->argv[0], '/') : NULL;

		if (p->group < 0 || !p->argv[0])
			continue; /* a one-shot step, not a piece */
		restarts += p->restarts;
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:b, s:I}", "name", p->name,
						   "tool", tool ? tool + 1 : p->argv[0], "pid",
						   (json_int_t)(p->pid ? p->pid : p->last_pid),
						   "running", p->pid != 0, "restarts",
						   (json_int_t)p->restarts));
	}
	state_set(st, "pieces", a);
	state_count_set(st, STATE_RESTARTS, restarts);
}
