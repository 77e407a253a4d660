/* report.h - the state files of one host read back, checked against the
 * processes and the kernel: what flannel-status prints, as text, as JSON
 * (docs/flannel-status.schema.json) or as Prometheus metrics. */
#ifndef FLANNEL_REPORT_H
#define FLANNEL_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define REPORT_VERSION 1
struct report {
	const char *dir;
	time_t now;
	json_t *doc;      /* the --json document: "pieces", "peers", "problems"... */
	size_t problems;  /* entries of doc's "problems" */
};

enum report_err {
	REPORT_OK = 0,
	REPORT_NO_DIR = -1, /* dir does not exist or cannot be read (errno) */
	REPORT_NOMEM = -2,
};

/*
 * Read every <dir>/<tool>.json, see whether each tool still runs, and
 * compare the peers the appliers installed with the kernel's routes
 * (kernel: false skips that).  A file that cannot be read or parsed is a
 * problem of the report, not an error.
 */
int report_collect(struct report *r, const char *dir, bool kernel);
void report_free(struct report *r);

/* Human text (the default output), the JSON document (one line), and the
 * Prometheus text exposition format.  0, or -1 with errno (stdio). */
int report_print_text(const struct report *r, FILE *f);
int report_print_json(const struct report *r, FILE *f);
/* The metrics into a malloc'd string (flanneld's /metrics); NULL on ENOMEM. */
char *report_metrics(const struct report *r);

#endif
