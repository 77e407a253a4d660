/* apply_priv.h - the applier's state, shared by the files of lib/apply/
 * only. */
#ifndef FLANNEL_APPLY_PRIV_H
#define FLANNEL_APPLY_PRIV_H

#include "apply/apply.h"
#include "base/htab.h"

enum obj { OBJ_NEIGH = 1, OBJ_FDB, OBJ_NH, OBJ_ROUTE };

/* Kept by nl for every batched message, given back when the kernel refuses it. */
struct cookie {
	uint8_t obj, op;
	uint8_t mac[6];
	uint32_t id;            /* nexthop id */
	int ifindex;
	struct prefix subnet;
};

/* FDB entries are shared by every subnet of one remote VTEP MAC. */
struct fdb_key {
	int ifindex;
	uint8_t mac[6];
	uint8_t pad[2];
};

struct fdb_ref {
	struct fdb_key key;
	struct ipaddr dst;
	uint32_t refs;
};

struct neigh_key {
	int ifindex;
	struct ipaddr ip;
};

struct kneigh {
	struct neigh_key key;
	uint8_t mac[6];
};

struct kfdb {
	struct fdb_key key;
	struct ipaddr dst;
};

/* Our objects as one dump found them; adoption takes entries out. */
struct kstate {
	struct htab routes;   /* struct nl_route, key dst */
	struct htab nexthops; /* struct nl_nexthop, key id (ours only) */
	struct htab foreign;  /* flannel ones outside our range: ours only
			       * through a route of ours that uses them */
	struct htab neighs;   /* struct kneigh */
	struct htab fdbs;     /* struct kfdb */
	const struct applier *a; /* whose dump: its network and nexthop range */
	uint32_t max_nhid;    /* of the nexthops in that range, ours or not */
	bool no_nexthops;     /* the kernel has no nexthop objects */
};

struct failed {
	struct prefix subnet;
	uint8_t obj;
	int err;
};

struct applier {
	const struct apply_backend *be; /* points to be_copy */
	struct apply_backend be_copy;
	struct apply_opts o;
	struct nl *nl, *mon;
	struct htab peers;    /* struct peer */
	struct subnet_lens peer_lens; /* their prefix lengths (subnet_check_peers) */
	struct htab fdb;      /* struct fdb_ref */
	struct htab links;    /* ifindex -> last seen flags */
	struct kstate *k;     /* startup state, until the first sync */
	bool nexthops;        /* nexthop objects in use */
	uint32_t nh_lo, nh_hi; /* this network's range of nexthop ids (nh_range) */
	uint32_t next_nhid;
	uint8_t *nh_used;     /* after the range wrapped: ids peers held then */
	uint32_t gen;
	bool in_snapshot, synced, want_reconcile;
	bool told_synced;     /* the synced callback has run */
	bool retry_on_up;     /* writes failed with ENETDOWN: retry when a link comes up */
	bool resetup;         /* a device was recreated: configure it again */
	struct failed *failed;
	size_t nfailed, failed_cap;
	struct apply_stats st;
	struct ipaddr local[64]; /* this host's addresses, read at local_ms */
	int n_local;
	int64_t local_ms;
};

/* apply_peer.c */
void peer_key(struct prefix *key, const struct prefix *p);
struct peer *peer_find(struct applier *a, const struct prefix *subnet);
int peer_install(struct applier *a, struct peer *p);
void peer_uninstall(struct applier *a, struct peer *p);
void peer_forget(struct applier *a, struct peer *p);
void apply_on_error(void *arg, void *cookie, int err, const char *ext);
int apply_handle_failures(struct applier *a);
int fdb_ref_get(struct applier *a, int dev, const uint8_t mac[6], const struct ipaddr *dst,
		const struct prefix *queue_for);
int dev_of(const struct applier *a, int family);

/* apply_nhid.c */
#define NH_SEQ_BITS 20          /* ids per network's range: 2^20 */
#define NH_RANGE0_BASE 0x10000u /* range 0: no known network; before ranges, all */
void nh_range(struct applier *a);
int nh_alloc(struct applier *a, uint32_t *id);

/* apply_kernel.c */
struct kstate *kstate_dump(struct applier *a);
void kstate_free(struct kstate *k);
void peer_adopt(struct applier *a, struct peer *p, struct kstate *k);
int kstate_purge(struct applier *a, struct kstate *k);
int apply_reconcile(struct applier *a);

/* apply_heal.c */
void apply_blackhole(struct applier *a);
int apply_monitor_open(struct applier *a);
int apply_monitor_read(struct applier *a);

#endif
