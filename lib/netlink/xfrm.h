/* xfrm.h - IPsec policies through NETLINK_XFRM, as the ipsec backend
 * installs them: one ESP tunnel template per policy, IPv4 selectors. */
#ifndef FLANNEL_XFRM_H
#define FLANNEL_XFRM_H

#include <stdbool.h>
#include <stdint.h>

#include "model/subnet.h"
#include "netlink/nl.h"

/* Our policies are the ones whose template reqid has this top byte (76,
 * like RTPROT_FLANNEL): found, restored and purged by it. */
#define XFRM_REQID_TAG 76u
#define XFRM_REQID_OURS(r) (((r) >> 24) == XFRM_REQID_TAG)

struct xfrm_pol {
	uint8_t dir;              /* XFRM_POLICY_IN, _OUT, _FWD */
	struct prefix src, dst;   /* the selector (any protocol, any port) */
	struct ipaddr tsrc, tdst; /* the ESP tunnel's outer addresses */
	uint32_t reqid;
	/* From a dump: */
	uint32_t priority;
	uint8_t action;
	int ntmpl;                /* templates; only the first is described */
	uint8_t tproto, tmode;
};

/* A NETLINK_XFRM socket (nl_open_proto): NULL with errno. */
struct nl *xfrm_open(void);
/* Add or replace (XFRM_MSG_UPDPOLICY): 0 or -errno. */
int xfrm_policy_put(struct nl *nl, const struct xfrm_pol *p);
/* Delete by selector and direction; absent is success. */
int xfrm_policy_del(struct nl *nl, const struct xfrm_pol *p);
typedef int (*xfrm_pol_fn)(const struct xfrm_pol *p, void *arg);
/* Every IPv4 policy of the main type. */
int xfrm_policy_dump(struct nl *nl, xfrm_pol_fn fn, void *arg);
/* Whether the kernel has ESP: 0 yes, -EPROTONOSUPPORT no, else -errno
 * (unknown).  Installs nothing: the probe SA has a key too short. */
int xfrm_esp_probe(struct nl *nl);

#endif
