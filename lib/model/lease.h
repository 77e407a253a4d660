/* lease.h - a subnet lease: upstream's etcd value and our event lines. */
#ifndef FLANNEL_LEASE_H
#define FLANNEL_LEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "model/subnet.h"

#define BACKEND_TYPE_MAX 32
/* Longest lease value flannel-watch passes on (flannel-events(7)); upstream's
 * are a few hundred bytes, and any event line stays far below EVENT_LINE_MAX. */
#define LEASE_VALUE_MAX 65536u

struct lease {
	struct prefix subnet;      /* IPv4 subnet; family 0 when IPv6-only */
	struct prefix subnet6;     /* family 0 when absent */
	struct ipaddr public_ip;   /* always AF_INET; 0.0.0.0 when unset */
	struct ipaddr public_ip6;  /* family 0 when absent */
	char backend_type[BACKEND_TYPE_MAX];
	json_t *backend_data;      /* owned; NULL when absent */
	json_t *backend_v6_data;   /* owned; NULL when absent */
	int64_t lease_id;          /* etcd lease; 0 = reservation (never expires) */
	time_t expiration;         /* 0 = unknown or never */
	int64_t mod_revision;
	bool self;                 /* this host's own lease */
};

void lease_init(struct lease *l);
void lease_clear(struct lease *l);
/* Deep copy; returns -1 on allocation failure. */
int lease_copy(struct lease *dst, const struct lease *src);

/*
 * Parse an etcd value as upstream flanneld writes it (field names matched
 * without regard to case, unknown fields ignored).  The subnets come from the
 * key and must already be in l.  On error, err says why and l is unchanged
 * apart from what lease_clear frees.
 */
int lease_parse_value(struct lease *l, const char *val, size_t len, char *err, size_t errlen);
/* Upstream's exact bytes: {"PublicIP":..,"PublicIPv6":..,"BackendType":..,"BackendData":..}. */
char *lease_format_value(const struct lease *l);

/* The public address and the subnet of one family (AF_INET, AF_INET6). */
const struct ipaddr *lease_public_of(const struct lease *l, int family);
const struct prefix *lease_subnet_of(const struct lease *l, int family);

/* Check what a backend will trust: addresses usable, family right, BackendData an object. */
int lease_validate(const struct lease *l, char *err, size_t errlen);
/*
 * A dual-stack lease whose PublicIPv6 is unusable (link-local, as a host
 * with no global IPv6 address once wrote it) loses its IPv6 part, so that
 * its IPv4 part still works: 1 when it did (why says what went), else 0.
 */
int lease_drop_unusable_v6(struct lease *l, char *why, size_t whylen);

#endif
