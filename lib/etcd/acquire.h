/* acquire.h - acquire and keep this host's subnet lease, as upstream does. */
#ifndef FLANNEL_ACQUIRE_H
#define FLANNEL_ACQUIRE_H

#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "model/config.h"
#include "model/lease.h"

#define SUBNET_TTL_DEFAULT 86400 /* upstream's subnetTTL: 24 h */
#define ACQUIRE_FULL 10          /* status: no free subnet */
#define ACQUIRE_CANDIDATES 100   /* upstream picks among the first 100 free */

struct acquire {
	struct etcd *e;
	const char *prefix;           /* etcd prefix, e.g. /coreos.com/network */
	const struct net_config *cfg;
	const struct lease *want;     /* PublicIP(s), BackendType, BackendData */
	struct prefix hint, hint6;    /* a previous subnet to prefer (family 0: none) */
	int64_t ttl;                  /* seconds */
	int tries;                    /* attempts when another host wins a race */
	char err[512];                /* why, when the status is not ETCD_OK */
	char note[256];               /* how: "reused", "previous subnet", "new" */
};

/* "<prefix>/subnets/<k>" cleaned as Go's path.Join cleans it. */
int acquire_key(const char *prefix, const char *leaf, char *buf, size_t len);

/*
 * Acquire a lease: ours again (same PublicIP), else the hint, else a random
 * free subnet; created atomically.  On ETCD_OK *got holds the lease (key in
 * key).  ACQUIRE_FULL when no subnet is free; etcd statuses otherwise.
 */
int acquire_lease(struct acquire *a, struct lease *got, char *key, size_t keylen, int64_t *rev);

/*
 * Renew: keep the etcd lease alive.  ETCD_OK with got->expiration moved on,
 * ETCD_NOTFOUND when the lease is gone (re-acquire), etcd errors otherwise.
 */
int acquire_renew(struct acquire *a, struct lease *got);

#endif
