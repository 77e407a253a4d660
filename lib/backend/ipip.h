/* ipip.h - the ipip backend's device and Backend keys, for flannel-ipip;
 * its table entry is backend_ipip (backend.h). */
#ifndef FLANNEL_IPIP_H
#define FLANNEL_IPIP_H

#include <jansson.h>

#include "netlink/nl.h"

#define IPIP_DEVNAME "flannel.ipip"
/* The outer IPv4 header. */
#define IPIP_OVERHEAD 20u

struct ipip_apply {
	bool direct_routing;
	bool setup; /* configure the device address on the self lease */
};

/*
 * Create flannel.ipip on the underlay (iface: name or address; else the
 * holder of public_ip; else the default route's), or reuse a compatible one;
 * set it up; out describes it.  -EOPNOTSUPP (logged as such) when the
 * kernel has no ipip, -EEXIST when a device of another kind has the name.
 */
int ipip_init(struct nl *nl, const char *iface, const struct ipaddr *public_ip,
	      struct nl_link *out);
/* The Backend object ({"Type":"ipip","DirectRouting":false}), keys matched
 * without regard to case as Go does; -1 with err on a bad value. */
int ipip_conf_from_json(json_t *o, struct ipip_apply *ap, char *err, size_t errlen);
int ipip_conf_parse_backend(const char *json, struct ipip_apply *ap, char *err, size_t errlen);

#endif
