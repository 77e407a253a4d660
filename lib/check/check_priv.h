/* check_priv.h - what the checks of lib/check/ share: the context (etcd,
 * the config, the leases, subnet.env, the kernel's objects) and the report. */
#ifndef FLANNEL_CHECK_PRIV_H
#define FLANNEL_CHECK_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "apply/apply.h"
#include "backend/backend.h"
#include "check/check.h"
#include "model/config.h"
#include "model/env.h"
#include "model/lease.h"
#include "netlink/nl.h"

/* WARN: a known risk, not a fault (shown with its fix; exit status 0). */
enum check_status { CHECK_OK, CHECK_FAIL, CHECK_SKIP, CHECK_WARN };

/* One remote lease and what its checks found. */
struct check_peer {
	struct lease l;
	char key[KEY_STRLEN];
	int planned;            /* 1: w holds the plan, 0: nothing to install, -1: plan_err */
	struct peer_want w;
	char plan_err[192];
	bool installed;         /* everything of w is in the kernel */
	int planned6;           /* the same for its IPv6 subnet */
	struct peer_want w6;
	char plan_err6[192];
	bool installed6;
	int underlay;           /* the underlay echo: 1 answered, 0 not, -1 not tried */
	bool selected;          /* checked in this run (all, or the PEER asked for) */
};

/* The kernel's objects the peer checks compare with (dumped once). */
struct check_kernel {
	struct nl_route *routes;
	size_t n_routes;
	struct nl_neigh *neigh, *fdb;
	size_t n_neigh, n_fdb;
	struct nl_nexthop *nh;
	size_t n_nh;
};

struct check {
	const struct check_opts *o;
	struct etcd *e;
	struct net_config cfg;
	const struct backend *be;
	struct check_peer *peers;
	size_t n_peers;
	struct lease self;      /* our lease in etcd; subnet family 0: none found */
	char self_key[KEY_STRLEN];
	int64_t rev;
	struct subnet_env env;
	int env_errno;          /* 0: subnet.env was read */
	struct prefix own;      /* our subnet: subnet.env's, else our lease's */
	struct prefix own6;     /* the same for IPv6; family 0: none */
	struct nl *nl;
	char devname[IFNAMSIZ]; /* the backend's device, "" for none */
	struct nl_link dev;
	bool has_dev;
	char devname6[IFNAMSIZ]; /* the IPv6 device (vxlan's flannel-v6.VNI), "" for none */
	struct nl_link dev6;
	bool has_dev6;
	struct check_kernel k;
	struct applier *ap;     /* for the backend's plans */
	json_t *tool_state;     /* without plans: its tool's state document, or NULL (why) */
	char tool_state_why[192];
	char tool_state_path[512];
	bool tool_gone;         /* the process of tool_state has ended */
	bool tool_state_reread; /* read again once, a period after the first time */
	unsigned n_ok, n_fail, n_skip, n_warn;
};

/* One line: status, the check's name, what it looked at (may be NULL), what
 * it found, and for a fault what to do (may be NULL). */
void check_report(struct check *c, enum check_status st, const char *name, const char *subject,
		  const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void check_summary(struct check *c);

/* check_host.c: the checks about this host alone. */
void check_env(struct check *c);
void check_device(struct check *c);
void check_offload(struct check *c);
void check_own_route(struct check *c);
void check_rp_filter(struct check *c);
/* check_fw.c */
void check_forward(struct check *c);
/* check_proc.c */
void check_instances(struct check *c);
/* check_clock.c: one request timed against etcd's Date. */
void check_clock(struct check *c);
/* check_peer.c: the kernel dump, then per peer. */
int check_kernel_dump(struct check *c);
void check_kernel_free(struct check_kernel *k);
void check_peer_installed(struct check *c, struct check_peer *p);
/* Without plans (udp, wireguard, ipsec): read its tool's state document. */
void check_tool_state(struct check *c);
void check_peer_probe(struct check *c, struct check_peer *p);

/* check_probe.c: ICMP echo with don't-fragment; src family 0: the kernel's
 * choice.  1: answered, 0: no answer in time, -errno. */
int probe_echo(const struct ipaddr *dst, const struct ipaddr *src, unsigned size, long wait_ms);
/* A VXLAN packet made by hand from a UDP socket to vtep:port: an echo from
 * src (our device's address) to dst (the peer's), in an Ethernet frame from
 * src_mac to dst_mac.  The answer comes back through our own device.
 * 1: answered, 0: not, -errno. */
struct probe_vxlan {
	struct ipaddr vtep, src, dst;
	uint16_t port;
	uint32_t vni;
	uint8_t src_mac[6], dst_mac[6];
};
int probe_vxlan(const struct probe_vxlan *v, long wait_ms);
/* The largest IP packet to dst that is answered, searched between lo (known
 * to pass) and hi (known not to); 0 with *mtu, -errno. */
int probe_path_mtu(const struct ipaddr *dst, unsigned lo, unsigned hi, long wait_ms,
		   unsigned *mtu);

#endif
