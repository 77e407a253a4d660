/* event.h - the JSON-lines event stream between flannel-watch and appliers.
 * The contract is man/flannel-events.7. */
#ifndef FLANNEL_EVENT_H
#define FLANNEL_EVENT_H

#include <stdio.h>

#include "model/lease.h"

#define EVENT_SCHEMA_VERSION 1

enum event_type {
	EV_UNKNOWN = 0, /* a type this version does not know: skip it */
	EV_ADDED,
	EV_REMOVED,
	EV_SYNC,
	EV_SNAPSHOT,    /* a snapshot begins: state until the next sync is complete */
};

struct event {
	enum event_type type;
	char key[KEY_STRLEN];  /* the lease key, e.g. "100.64.5.0-24" */
	struct lease lease;    /* added/removed; removed may carry only subnets */
	bool has_attrs;        /* removed: the previous value is known */
	int64_t revision;      /* etcd revision of the change, or of the sync */
	char type_name[32];    /* for EV_UNKNOWN */
};

void event_init(struct event *ev);
void event_clear(struct event *ev);

/*
 * Parse one line.  Returns 0 on success, -1 with err filled when the line is
 * malformed or a lease in it fails lease_validate.  Unknown types parse fine
 * as EV_UNKNOWN.
 */
int event_parse(const char *line, struct event *ev, char *err, size_t errlen);
/* Build the JSON object of an event (compact, "type" first). NULL on ENOMEM. */
json_t *event_to_json(const struct event *ev);
/* Print one event as one line and flush; returns 0, or -1 with errno (EPIPE). */
int event_write(FILE *f, const struct event *ev);
/* The same without the flush, for the lines of a snapshot: the reader needs
 * them all before the sync marker anyway. */
int event_print(FILE *f, const struct event *ev);

const char *event_type_name(enum event_type t);

/* Lines from a descriptor, numbered from 1, at most max bytes each. */
struct line_reader;
struct line_reader *line_reader_new(int fd, size_t max);
void line_reader_free(struct line_reader *r);
#define LINE_WOULD_BLOCK (-2) /* a non-blocking descriptor has nothing yet */
#define LINE_TOO_LONG (-3)    /* line *lineno is longer than max: it is skipped */
/* 1: a line is in *line (owned by the reader until the next call); 0: EOF;
 * -1: error (errno); or one of the two above. */
int line_reader_next(struct line_reader *r, char **line, unsigned long *lineno);

#endif
