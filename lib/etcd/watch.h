/* watch.h - stream every lease as JSON-line events (man flannel-events.7). */
#ifndef FLANNEL_WATCH_H
#define FLANNEL_WATCH_H

#include <stdbool.h>
#include <stdio.h>

#include "etcd/etcd.h"
#include "model/subnet.h"
#include "status/state.h"

struct lease_watch {
	struct etcd *e;
	const char *prefix;
	FILE *out;
	const char *subnet_file;  /* our own subnet, to mark "self" (may be NULL) */
	long page;                /* keys per range request */
	bool expirations;         /* look up each lease's TTL (one request per lease) */
	bool once;                /* stop after the first sync */
	void (*synced)(void *arg); /* after the first sync */
	void *synced_arg;
	struct state *state;      /* the state file (status/state.h), or NULL */
	/* state */
	int64_t rev;              /* everything up to here has been sent */
	struct prefix self4, self6;
	int64_t self_checked_ms;
	long long self_mtime;
	unsigned long leases, skipped;
	int out_err;
	bool connected;           /* the current stream was accepted */
	unsigned long retries; /* failed watch attempts since the last success */
	bool in_snapshot;         /* lines are buffered until the sync marker */
};

/* Runs until SIGTERM/SIGINT (after sig_init) or, with once, the first
 * sync.  Returns 0 or an error kind (base/err.h). */
int lease_watch_run(struct lease_watch *w);

#endif
