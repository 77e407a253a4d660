/* event_stream.h - the one loop that reads lease events on stdin, shared by
 * the kernel appliers (flannel-vxlan, flannel-route) and flannel-ext: lines
 * in, parsed events to a callback, batches flushed whenever input would
 * block, signals and one more descriptor (a netlink monitor) watched. */
#ifndef FLANNEL_EVENT_STREAM_H
#define FLANNEL_EVENT_STREAM_H

#include "model/event.h"

/* A line longer than this is reported and skipped. */
#define EVENT_LINE_MAX (1u << 20)

struct event_sink {
	/* One event: 0 goes on, 1 ends the run cleanly, -1 ends it (errno). */
	int (*event)(void *arg, const struct event *ev);
	/* Input would block: send what is batched; may be NULL.  0 or -1. */
	int (*idle)(void *arg);
	/* A caught signal (sig.h): 0 goes on, 1 ends the run cleanly, -1 ends it. */
	int (*signal)(void *arg, int sig);
	int sigfd;             /* sig.h's pipe, or -1 */
	/* extra_fd is readable: 0 or -1; may be NULL. */
	int (*extra)(void *arg);
	int extra_fd;          /* or -1 */
	/* Before every wait: work that is due (a state file); the milliseconds
	 * until it is due again, the wait's timeout, or -1.  May be NULL. */
	int (*tick)(void *arg);
	void *arg;
	/* Counted by the loop: */
	unsigned long lines, bad_lines;
};

/*
 * Read event lines from fd until EOF or a callback ends the run.  Blank
 * lines are ignored; a malformed or over-long line is logged with its
 * number and skipped.  Returns 0, FL_ERR_IO when reading failed, FL_ERR_OS
 * when a callback failed (logged with the line number).
 */
int event_stream_run(int fd, struct event_sink *s);

#endif
