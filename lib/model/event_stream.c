/* event_stream.c - lease event lines into callbacks.  Lines are handled as
 * they come and idle() runs whenever input would block, so a snapshot is
 * applied in large batches and a single change at once. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sig.h"
#include "model/event_stream.h"

static int handle_line(struct event_sink *s, const char *line, unsigned long lineno)
{
	struct event ev;
	char err[256];
	int rc;

	s->lines++;
	if (line[strspn(line, " \t\r")] == '\0')
		return 0;
	event_init(&ev);
	if (event_parse(line, &ev, err, sizeof(err)) < 0) {
		log_warn("skip line %lu: %s", lineno, err);
		s->bad_lines++;
		return 0;
	}
	rc = s->event(s->arg, &ev);
	event_clear(&ev);
	return rc;
}

/* 1 when a signal ends the run. */
static int handle_signals(struct event_sink *s)
{
	int sig, rc = 0;

	while (rc == 0 && (sig = sig_next()) != 0)
		rc = s->signal ? s->signal(s->arg, sig) : (sig == SIGTERM || sig == SIGINT);
	return rc;
}

/* Flush, then sleep until input, the extra descriptor or a signal. */
static int wait_input(struct event_sink *s, int fd)
{
	struct pollfd pfd[3] = { { .fd = fd, .events = POLLIN },
				 { .fd = s->extra ? s->extra_fd : -1, .events = POLLIN },
				 { .fd = s->sigfd, .events = POLLIN } };
	int rc;

	if (s->idle && s->idle(s->arg) < 0)
		return -1;
	for (;;) {
		if (poll(pfd, 3, s->tick ? s->tick(s->arg) : -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((pfd[2].revents & POLLIN) && (rc = handle_signals(s)) != 0)
			return rc;
		if ((pfd[1].revents & POLLIN) && s->extra(s->arg) < 0)
			return -1;
		if (pfd[0].revents)
			return 0;
	}
}

int event_stream_run(int fd, struct event_sink *s)
{
	struct line_reader *r = line_reader_new(fd, EVENT_LINE_MAX);
	int flags = fcntl(fd, F_GETFL), rc = 0, n = 0;
	unsigned long lineno = 0;
	char *line;

	if (!r || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		log_err("read events: %s", strerror(errno));
		line_reader_free(r);
		return FL_ERR_OS;
	}
	while (rc == 0) {
		/* Between lines too: a signal must not wait for the input to pause. */
		if (s->sigfd >= 0 && sig_pending() && (rc = handle_signals(s)) != 0)
			break;
		n = line_reader_next(r, &line, &lineno);
		if (n == 1) {
			rc = handle_line(s, line, lineno);
			/* A stream that never pauses still gets its ticks. */
			if (rc == 0 && s->tick)
				s->tick(s->arg);
		} else if (n == LINE_TOO_LONG) {
			log_warn("skip line %lu: longer than %u bytes", lineno, EVENT_LINE_MAX);
			s->lines++;
			s->bad_lines++;
		} else if (n == LINE_WOULD_BLOCK)
			rc = wait_input(s, fd);
		else
			break;
	}
	if (rc < 0) {
		log_err("handle events (line %lu): %s", lineno, strerror(errno));
		rc = FL_ERR_OS;
	} else if (n < 0 && n != LINE_WOULD_BLOCK && n != LINE_TOO_LONG) {
		log_err("read events: %s", strerror(errno));
		rc = FL_ERR_IO;
	} else {
		rc = 0;
	}
	if (s->idle && s->idle(s->arg) < 0 && !rc)
		rc = FL_ERR_OS;
	fcntl(fd, F_SETFL, flags);
	line_reader_free(r);
	return rc;
}
