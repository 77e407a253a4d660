/* nl.h - rtnetlink with libmnl: batches without per-message acks, extended
 * ack errors, and one small file per kernel object kind (nl_link.c,
 * nl_addr.c, nl_route.c, nl_neigh.c, nl_nexthop.c). */
#ifndef FLANNEL_NL_H
#define FLANNEL_NL_H

#include <libmnl/libmnl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/subnet.h"

/*
 * The rtm_protocol (and nexthop protocol, and neighbour NDA_PROTOCOL) of
 * everything flannel installs: listed, reconciled and purged by this number.
 * 76 is unused in iproute2's rt_protos and in <linux/rtnetlink.h>;
 * contrib/rt_protos.d/flannel.conf names it "flannel".
 */
#define RTPROT_FLANNEL 76

/* How a write treats an existing object. */
enum nl_op {
	NL_REPLACE, /* NLM_F_CREATE | NLM_F_REPLACE */
	NL_CREATE,  /* NLM_F_CREATE | NLM_F_EXCL */
	NL_DELETE,  /* absent is success */
};

struct nl;

/* Called for every message of a batch that the kernel refused. */
typedef void (*nl_error_fn)(void *arg, void *cookie, int err, const char *ext);

/* A NETLINK_ROUTE socket with extended acks and a send batch. */
struct nl *nl_open(void);
/* The same on another netlink family (NETLINK_XFRM). */
struct nl *nl_open_proto(int proto);
void nl_close(struct nl *nl);
/* Per batched message the caller keeps cookie_size bytes, given back on error. */
int nl_set_error_handler(struct nl *nl, size_t cookie_size, nl_error_fn fn, void *arg);
/* Text of the last synchronous error: "strerror (kernel: text)". */
const char *nl_strerror(struct nl *nl, int err);

/*
 * Start a batched message.  Flushes first when the batch is full.  *cookie
 * points to zeroed cookie space for this message.  NULL when a flush failed.
 */
struct nlmsghdr *nl_batch_msg(struct nl *nl, uint16_t type, enum nl_op op, void **cookie);
/* Send the batch (one sendmsg) and drain errors; -1 when sendmsg failed. */
int nl_batch_flush(struct nl *nl);
/* Messages queued since open (batches flushed or not). */
unsigned long nl_batch_total(const struct nl *nl);

/* Synchronous request with an ack; returns 0 or -errno. Flushes the batch first. */
int nl_request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/*
 * Dump: cb runs for every message.  Returns 0, -errno, or -EINTR when the
 * dump was interrupted by a change (the caller dumps again).
 */
int nl_dump(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* Start a message in buf (MNL_SOCKET_BUFFER_SIZE bytes) for nl_request or
 * nl_dump.  buf is zeroed first: libmnl 1.0.4 leaves the padding after an
 * attribute unset, and no byte never written may go to the kernel. */
struct nlmsghdr *nl_msg_init(char *buf, uint16_t type, uint16_t flags);
uint16_t nl_op_flags(enum nl_op op);

/* A multicast listener (RTNLGRP_* bits as in 1 << (grp - 1)) for self-healing. */
struct nl *nl_open_monitor(const unsigned *groups, int ngroups);
/* Keep only deletions (and link changes), and routes/nexthops of one protocol. */
int nl_monitor_filter_deletions(struct nl *nl, uint8_t protocol);
int nl_fd(const struct nl *nl);
/* Read what is queued; cb per message.  -ENOBUFS when notifications were lost. */
int nl_monitor_read(struct nl *nl, mnl_cb_t cb, void *data);

/* ---- links (nl_link.c) ---- */
struct nl_vxlan {
	uint32_t vni;
	uint32_t link;         /* underlay ifindex, 0 = none */
	struct ipaddr local;   /* family picks LOCAL or LOCAL6 */
	uint16_t port;         /* 0 = kernel default (8472) */
	bool learning, gbp;
};

/* An ipip device's tunnel ends (IFLA_IPTUN_*); family 0: any. */
struct nl_ipip {
	struct ipaddr local, remote;
	uint32_t link;         /* IFLA_IPTUN_LINK, 0 = none */
};

struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	unsigned mtu;
	unsigned flags;        /* IFF_* */
	uint8_t mac[6];
	char kind[16];         /* "vxlan", "veth", "" */
	bool has_vxlan;
	struct nl_vxlan vxlan;
	bool has_ipip;
	struct nl_ipip ipip;
};

/* -ENODEV when there is no such link. */
int nl_link_get(struct nl *nl, const char *name, int ifindex, struct nl_link *out);
int nl_vxlan_create(struct nl *nl, const char *name, const struct nl_vxlan *vx, unsigned mtu,
		    const uint8_t mac[6]);
/* An ipip device as upstream makes it: local only, ttl inherit, nopmtudisc.
 * -EOPNOTSUPP when the kernel has no ipip. */
int nl_ipip_create(struct nl *nl, const char *name, const struct ipaddr *local, unsigned mtu);
int nl_link_delete(struct nl *nl, int ifindex);
int nl_link_set_up(struct nl *nl, int ifindex);
int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned mtu);
int nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *out);

/* ---- addresses (nl_addr.c) ---- */
struct nl_addr {
	int ifindex;
	struct prefix pfx;
	uint8_t scope;
};
typedef int (*nl_addr_fn)(const struct nl_addr *a, void *arg);
int nl_addr_dump(struct nl *nl, int family, nl_addr_fn fn, void *arg);
int nl_addr_change(struct nl *nl, enum nl_op op, const struct nl_addr *a);

/* ---- routes (nl_route.c) ---- */
struct nl_route {
	struct prefix dst;
	struct ipaddr gw;      /* family 0: none */
	uint32_t oif;
	uint32_t nhid;         /* nexthop object, 0: none */
	uint32_t table;        /* 0: main */
	uint32_t priority;
	uint8_t protocol, scope, type, flags; /* flags: RTNH_F_ONLINK */
};
/* Queue a route write in the batch. */
int nl_route_queue(struct nl *nl, enum nl_op op, const struct nl_route *r, const void *cookie,
		   size_t cookie_len);
int nl_route_change(struct nl *nl, enum nl_op op, const struct nl_route *r);
typedef int (*nl_route_fn)(const struct nl_route *r, void *arg);
/* Main-table unicast routes of one protocol (0: all). */
int nl_route_dump(struct nl *nl, int family, uint8_t protocol, nl_route_fn fn, void *arg);
/* The kernel's route lookup for one address (RTM_GETROUTE). */
int nl_route_get(struct nl *nl, const struct ipaddr *dst, struct nl_route *out);
int nl_route_parse(const struct nlmsghdr *nlh, struct nl_route *out);

/* ---- neighbours and FDB entries (nl_neigh.c) ---- */
struct nl_neigh {
	int family;            /* AF_INET, AF_INET6, or AF_BRIDGE for FDB */
	int ifindex;
	struct ipaddr ip;      /* neighbour: its address; FDB: the remote VTEP (dst) */
	uint8_t mac[6];
	uint16_t state;        /* NUD_* */
	uint8_t flags;         /* NTF_* */
	uint8_t protocol;
};
int nl_neigh_queue(struct nl *nl, enum nl_op op, const struct nl_neigh *n, const void *cookie,
		   size_t cookie_len);
typedef int (*nl_neigh_fn)(const struct nl_neigh *n, void *arg);
/* Entries on one device; family AF_BRIDGE dumps the FDB. */
int nl_neigh_dump(struct nl *nl, int family, int ifindex, nl_neigh_fn fn, void *arg);
int nl_neigh_parse(const struct nlmsghdr *nlh, struct nl_neigh *out);

/* ---- nexthop objects (nl_nexthop.c) ---- */
struct nl_nexthop {
	uint32_t id;
	int family;
	struct ipaddr gw;
	uint32_t oif;
	uint8_t flags;         /* RTNH_F_ONLINK */
	uint8_t protocol;
};
int nl_nexthop_queue(struct nl *nl, enum nl_op op, const struct nl_nexthop *nh,
		     const void *cookie, size_t cookie_len);
typedef int (*nl_nexthop_fn)(const struct nl_nexthop *nh, void *arg);
/* All nexthop objects; -EOPNOTSUPP (or -EINVAL) on kernels without them. */
int nl_nexthop_dump(struct nl *nl, nl_nexthop_fn fn, void *arg);
int nl_nexthop_parse(const struct nlmsghdr *nlh, struct nl_nexthop *out);

/* MAC text: "aa:bb:cc:dd:ee:ff" (lowercase); parse accepts either case. */
int mac_parse(const char *s, uint8_t mac[6]);
const char *mac_format(const uint8_t mac[6], char *buf, size_t len);

/* Put an address attribute of the address's family. */
void nl_put_addr(struct nlmsghdr *nlh, uint16_t type, const struct ipaddr *a);
int nl_get_addr(const struct nlattr *attr, int family, struct ipaddr *out);

#endif
