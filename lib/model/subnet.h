/* subnet.h - IPv4/IPv6 addresses and prefixes, and flannel's subnet keys. */
#ifndef FLANNEL_SUBNET_H
#define FLANNEL_SUBNET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Big enough for "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128". */
#define ADDR_STRLEN 64
#define KEY_STRLEN 128

struct ipaddr {
	int family; /* AF_INET, AF_INET6, or 0 when unset */
	union {
		uint8_t b[16];
		struct in_addr v4;
		struct in6_addr v6;
	};
};

struct prefix {
	struct ipaddr addr;
	unsigned len;
};

int addr_bits(int family);
bool addr_is_set(const struct ipaddr *a);
/* Strict text forms: dotted quad without leading zeros, or IPv6 without zone. */
int addr_parse(const char *s, struct ipaddr *a);
int addr_parse_family(const char *s, int family, struct ipaddr *a);
/* IPv4 dotted quad; IPv6 in RFC 5952 form (what Go's net.IP.String prints). */
const char *addr_format(const struct ipaddr *a, char *buf, size_t len);
bool addr_equal(const struct ipaddr *a, const struct ipaddr *b);
int addr_cmp(const struct ipaddr *a, const struct ipaddr *b);
/* Addresses no lease may announce: unspecified, loopback, multicast, broadcast, link-local. */
bool addr_is_unusable(const struct ipaddr *a);
/* ::ffff:a.b.c.d: printed dotted, so never accepted as an IPv6 prefix. */
bool addr_is_v4_mapped(const struct ipaddr *a);
/* a + n (n may be negative); false on overflow. */
bool addr_add(struct ipaddr *a, int64_t n);

/* "a.b.c.d/n" or "x::/n"; host bits are cleared (as Go's ParseCIDR does). */
int prefix_parse(const char *s, struct prefix *p);
/* Like prefix_parse, but host bits set is an error. */
int prefix_parse_strict(const char *s, struct prefix *p);
const char *prefix_format(const struct prefix *p, char *buf, size_t len);
void prefix_mask(struct prefix *p);
bool prefix_contains_addr(const struct prefix *net, const struct ipaddr *a);
/* net holds all of sub. */
bool prefix_contains(const struct prefix *net, const struct prefix *sub);
bool prefix_overlaps(const struct prefix *a, const struct prefix *b);
bool prefix_equal(const struct prefix *a, const struct prefix *b);
/* Step to the next prefix of the same length; false when it wraps. */
bool prefix_next(struct prefix *p);
/* The first address of the next prefix minus one: the last address inside p. */
void prefix_last_addr(const struct prefix *p, struct ipaddr *out);
/* The address of p plus one ("100.64.5.1"), the form subnet.env uses. */
void prefix_first_host(const struct prefix *p, struct ipaddr *out);
bool addr_is_aligned(const struct ipaddr *a, unsigned len);

/*
 * What no applier (kernel or extension) may act on for a remote lease:
 * an unset or /0 subnet, an IPv4-mapped one, one overlapping own, one
 * outside net or as large as it.  own and net may be NULL or of another
 * family (unknown: not checked).  err says why: "subnet X overlaps ...".
 */
int subnet_check_remote(const struct prefix *s, const struct prefix *own, const struct prefix *net,
			char *err, size_t errlen);
/* The same for a peer's subnet, and its public IP of that family usable
 * (addr_is_unusable): "public IP[v6] ADDR is not usable" otherwise. */
int peer_check_remote(const struct prefix *s, const struct ipaddr *pub, const struct prefix *own,
		      const struct prefix *net, char *err, size_t errlen);

/* The prefix lengths of the leases held, per family, so that the check below
 * asks only for lengths some lease has (one, /24, on most networks: not 31
 * lookups per lease).  Lengths are added, never removed: one kept in vain
 * costs a lookup, never a missed overlap. */
struct subnet_lens {
	uint64_t bits[2][3]; /* [IPv6][len / 64], len 0..128 */
};
void subnet_lens_add(struct subnet_lens *l, const struct prefix *p);

/*
 * The other half of those checks: s must not lie inside another remote
 * lease's subnet, nor share its address with one (the gateway, neighbour and
 * FDB entry would be shared, and the lease there first would lose them).
 * known(arg, q) says whether a lease for exactly q is held; it is asked only
 * for the lengths in lens (NULL: every length).  0 or -1 (err).
 */
int subnet_check_peers(const struct prefix *s, const struct subnet_lens *lens,
		       bool (*known)(void *arg, const struct prefix *q), void *arg, char *err,
		       size_t errlen);

/* Lease key: "100.64.5.0-24", "100.64.5.0-24&2001:db8:1:5::-64". v6 may be NULL. */
int subnet_key_format(const struct prefix *v4, const struct prefix *v6, char *buf, size_t len);
/* Parses what upstream's pattern accepts; v6->addr.family is 0 when absent. */
int subnet_key_parse(const char *key, struct prefix *v4, struct prefix *v6);
/* The one parser of lease keys from etcd: the n bytes of leaf must be exactly
 * "A.B.C.D-N" or "A.B.C.D-N&V6-N" as upstream writes them (canonical forms,
 * no NUL, nothing before or after); IPv4-mapped IPv6 is refused. */
int subnet_key_parse_n(const char *leaf, size_t n, struct prefix *v4, struct prefix *v6);
/* A full etcd key of keylen bytes: dir ("/coreos.com/network/subnets/")
 * followed by a leaf subnet_key_parse_n accepts; 0 or -1. */
int subnet_key_of(const char *dir, const char *key, size_t keylen, struct prefix *v4,
		  struct prefix *v6);


#endif
