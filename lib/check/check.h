/* check.h - flannel-check: diagnose this host's part of the overlay and
 * name each fault with what to do, one line per check.  It reads etcd (the
 * config and the leases), subnet.env and the kernel, asks the backend table
 * what each remote lease should have installed, and probes each peer. */
#ifndef FLANNEL_CHECK_H
#define FLANNEL_CHECK_H

#include <stdbool.h>
#include <time.h>

#include "etcd/etcd.h"

struct check_opts {
	struct etcd_opts etcd;
	const char *prefix;      /* the etcd prefix */
	const char *subnet_file; /* subnet.env */
	const char *peer;        /* one peer (a subnet or a public IP); NULL: all */
	const char *public_ip;   /* our public IP when subnet.env is gone; NULL: any local one */
	bool json;               /* JSON lines instead of text */
	long probe_ms;           /* how long a probe waits for its answer */
	long max_skew_s;         /* clock difference to etcd that is a fault */
	const char *iptables;    /* iptables(8) to run */
	const char *nft;         /* nft(8) to run */
	const char *skip;        /* "offload,clock": checks reported as SKIP, not run; NULL */
	const char *state_dir;   /* the tools' state files (flannel-state(5)); NULL: the default */
};

void check_opts_init(struct check_opts *o);
/* Run every check: 0 when all are ok (or could not be run), FL_ERR_FAILED
 * when one failed, FL_ERR_UNAVAILABLE / FL_ERR_PERM / FL_ERR_PROTO when etcd
 * could not be read, FL_ERR_CONFIG without a usable network config,
 * FL_ERR_OS, FL_ERR_IO (an error kind, base/err.h). */
int check_run(const struct check_opts *o);

/*
 * The clock comparison.  A local clock read t0 before a request and t1
 * after it, and the server's Date (whole seconds: the server's clock was
 * somewhere in [date, date + 1) when it answered): the server's clock minus
 * ours lies within [*lo, *hi] seconds.
 */
void check_skew_bounds(time_t date, const struct timespec *t0, const struct timespec *t1,
		       double *lo, double *hi);
/* 1: the server is ahead by more than max for sure, -1: behind by more
 * than max for sure, 0: within max or not sure. */
int check_skew_verdict(double lo, double hi, double max);

#endif
