/* check_clock.c - clock skew against etcd: one request timed with our
 * clock, compared with the Date header of etcd's answer (whole seconds, so
 * the verdict is given only when the difference is sure to pass the limit). */
#include <stdio.h>
#include <time.h>

#include "check/check_priv.h"
#include "etcd/acquire.h"

static double ts(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

void check_skew_bounds(time_t date, const struct timespec *t0, const struct timespec *t1,
		       double *lo, double *hi)
{
	*lo = (double)date - ts(t1);
	*hi = (double)date + 1.0 - ts(t0);
}

int check_skew_verdict(double lo, double hi, double max)
{
	if (lo > max)
		return 1;
	if (hi < -max)
		return -1;
	return 0;
}

void check_clock(struct check *c)
{
	struct timespec t0, t1;
	struct etcd_kv kv = { 0 };
	char key[600], fix[160];
	double lo, hi;
	time_t date;
	int v;

	if (acquire_key(c->o->prefix, "", key, sizeof(key)) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &t0);
	(void)etcd_get(c->e, key, &kv, NULL);
	clock_gettime(CLOCK_REALTIME, &t1);
	etcd_kv_clear(&kv);
	date = etcd_last_date(c->e);
	if (!date) {
		check_report(c, CHECK_SKIP, "clock", NULL, NULL,
			     "etcd's answer had no Date header (https endpoints: libcurl keeps none)");
		return;
	}
	check_skew_bounds(date, &t0, &t1, &lo, &hi);
	v = check_skew_verdict(lo, hi, (double)c->o->max_skew_s);
	snprintf(fix, sizeof(fix), "synchronise this host's clock (chrony, systemd-timesyncd) and "
		 "etcd's: TLS certificates and the leases' expiration times depend on it");
	if (v)
		check_report(c, CHECK_FAIL, "clock", NULL, fix,
			     "this host's clock is %.0f s %s etcd's (more than %ld s)",
			     v > 0 ? lo : -hi, v > 0 ? "behind" : "ahead of", c->o->max_skew_s);
	else
		check_report(c, CHECK_OK, "clock", NULL, NULL,
			     "within %ld s of etcd's (etcd minus ours: %.1f..%.1f s)", c->o->max_skew_s,
			     lo, hi);
}
