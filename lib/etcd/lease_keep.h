/* lease_keep.h - hold this host's lease: acquire, write subnet.env, renew,
 * and take it back when it vanishes. */
#ifndef FLANNEL_LEASE_KEEP_H
#define FLANNEL_LEASE_KEEP_H

#include <stdio.h>

#include "etcd/acquire.h"
#include "model/config.h"
#include "model/env.h"
#include "status/state.h"

struct lease_keep {
	struct acquire acq;
	const char *subnet_file;
	unsigned mtu;
	bool ipmasq;
	int64_t margin_s;          /* renew this long before expiry */
	bool oneshot;              /* acquire, write, exit */
	FILE *out;                 /* JSON lines about the lease, or NULL */
	void (*ready)(void *arg);  /* after the first subnet.env is written */
	void *ready_arg;
	struct state *state;       /* the state file (status/state.h), or NULL */
	/* state */
	struct lease cur;
	char key[KEY_STRLEN];
	int64_t rev;
	int64_t down_ms, down_logged_ms; /* etcd unreachable since (mono ms), 0: it is not */
	unsigned long down_tries, renew_failures;
};


/* Runs until SIGTERM/SIGINT (sig_init must have been called). Returns an
 * error kind (base/err.h): 0, FL_ERR_TEMP network full, FL_ERR_UNAVAILABLE etcd
 * unreachable, FL_ERR_IO output, ... */
int lease_keep_run(struct lease_keep *k);

#endif
