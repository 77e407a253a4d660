/* apply.h - lease events into the kernel: the engine shared by flannel-vxlan,
 * flannel-route and flannel-ipip.  A backend only plans what one lease needs
 * per family; the engine diffs that against what the kernel has, writes the
 * difference in batches, purges after a sync, and heals deletions it sees. */
#ifndef FLANNEL_APPLY_H
#define FLANNEL_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/htab.h"
#include "model/event.h"
#include "netlink/nl.h"
#include "status/state.h"

enum peer_kind {
	PEER_NONE = 0,
	PEER_ENCAP, /* vxlan: neighbour gw->mac, FDB mac->vtep, route via gw onlink on the device */
	PEER_GW,    /* route via gw on oif (host-gw, DirectRouting) */
	PEER_TUNNEL, /* ipip: route via gw onlink on the device, which is the far end */
};

/* What one remote subnet needs in one family. */
struct peer_want {
	uint8_t kind;
	uint8_t onlink;
	uint8_t mac[6];
	uint32_t oif;
	struct ipaddr gw;   /* route gateway */
	struct ipaddr vtep; /* ENCAP: FDB destination (remote public IP) */
};

#define HAVE_NEIGH 1u
#define HAVE_FDB 2u
#define HAVE_NH 4u
#define HAVE_ROUTE 8u

/* Where a route sends packets: a nexthop object's or a classic route's target. */
struct fwd {
	struct ipaddr gw;
	uint32_t oif;
	uint8_t onlink;
};

struct peer {
	struct prefix subnet;   /* key (normalised: see peer_key) */
	struct peer_want want;
	uint32_t gen;           /* snapshot generation that last announced it */
	/* What the kernel has, per the have bits: */
	uint8_t have;
	uint8_t neigh_mac[6];   /* HAVE_NEIGH: subnet address -> neigh_mac on dev */
	uint8_t fdb_mac[6];     /* HAVE_FDB: holds a reference on the FDB entry (dev, fdb_mac) */
	int dev;                /* the device of the neighbour and FDB entries */
	struct fwd fwd;         /* HAVE_NH (nexthop shape) or HAVE_ROUTE (classic) */
	uint32_t nhid;          /* HAVE_NH: our nexthop object */
	uint32_t route_nhid;    /* HAVE_ROUTE: the nexthop the route uses, 0 = classic */
};

struct applier;

struct apply_backend {
	const char *name;          /* "vxlan", "host-gw": the lease BackendType */
	/* (the backends' plans are in lib/backend/, one file each) */
	/*
	 * Plan one family of a remote lease: 1 and *w filled when something is
	 * to be installed, 0 when the lease has nothing for this family here,
	 * -1 with err when the lease is unusable (the whole lease is skipped).
	 */
	int (*plan)(struct applier *a, const struct lease *l, int family, struct peer_want *w,
		    char *err, size_t errlen);
	/* The self lease arrived (configure the local side); may be NULL. */
	int (*self)(struct applier *a, const struct lease *l);
	void *data;
};

struct apply_opts {
	bool classic_routes;   /* upstream's route shape, no nexthop objects */
	bool no_monitor;
	struct prefix network; /* family 0: unknown; remote subnets must lie inside */
	struct prefix network6;
	struct prefix own;     /* our own lease (also learnt from "self":true) */
	struct prefix own6;
	int dev[2];            /* overlay device per family ([0] v4, [1] v6), 0: none;
				* its neighbour and FDB entries are ours */
	char devname[2][IFNAMSIZ];
	bool dev_seen[2];      /* the device existed once: while it is gone, keep
				* planning for it and install when it is back */
	int iface;             /* host-gw: the underlay interface routes must use, 0: any */
	int sigfd;             /* sig.h's pipe, or -1: SIGHUP reconciles, SIGTERM and
				* SIGINT end the run */
	bool blackhole;        /* a blackhole route for our own subnet (upstream's
				* --ip-blackhole-route), kept like the others */
	struct state *state;   /* the state file (status/state.h), or NULL */
	/* Called once, when the first sync is in the kernel (systemd's READY=1). */
	void (*synced)(void *arg);
	void *synced_arg;
};

struct apply_stats {
	unsigned long lines, added, removed, skipped, bad_lines, unchanged, errors, healed,
		purged, reconciles;
};

/* Own subnets and networks from subnet.env; a missing file is fine unless
 * warn (the path was given).  --network overrides the file's. */
void apply_opts_read_env(struct apply_opts *o, const char *path, bool warn,
			 const struct prefix *network);
/* Give the overlay device ifindex own's address (/32 or /128) alone and set
 * it up; out is the link read back.  0 or -errno, logged. */
int apply_dev_address(struct nl *nl, int ifindex, const struct prefix *own, struct nl_link *out);
/* Run an applier on stdin: 0, FL_ERR_FAILED when kernel writes
 * failed, or another error kind (base/err.h). */
int apply_main(const struct apply_backend *be, struct apply_opts *o);

struct applier *applier_new(const struct apply_backend *be, const struct apply_opts *o);
void applier_free(struct applier *a);
struct nl *applier_nl(struct applier *a);
const struct apply_opts *applier_opts(const struct applier *a);
const void *applier_backend_data(const struct applier *a);
/* The kernel's own lookup of ip: 1 with *oif when it is directly on a link
 * (no gateway), 0 when not, -errno. */
int applier_direct_oif(struct applier *a, const struct ipaddr *ip, uint32_t *oif);
/* The lease's public IP of that family: NULL with err when it has none or
 * it is not usable (unspecified, loopback, multicast...). */
const struct ipaddr *applier_public_ip(const struct lease *l, int family, char *err,
				       size_t errlen);
/* DirectRouting: 1 with *w a plain route via ip when ip is directly on a
 * link, 0 when not (encapsulate), -1 with err when the lookup failed. */
int applier_plan_direct(struct applier *a, const struct ipaddr *ip, struct peer_want *w,
			char *err, size_t errlen);
/* Read events from fd until EOF; 0 at EOF, or an error kind. */
int applier_run(struct applier *a, int fd);
/* Apply one event (the batch is flushed by applier_flush). */
int applier_event(struct applier *a, const struct event *ev);
int applier_flush(struct applier *a);
const struct apply_stats *applier_stats(const struct applier *a);

#endif
