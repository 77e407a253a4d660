/* vxlan.h - the vxlan backend's device, BackendData and Backend keys, for
 * flannel-vxlan; its table entry is backend_vxlan (backend.h). */
#ifndef FLANNEL_VXLAN_H
#define FLANNEL_VXLAN_H

#include <jansson.h>

#include "apply/apply.h"
#include "netlink/nl.h"

#define VXLAN_VNI_MAX 16777215u

struct vxlan_conf {
	uint32_t vni;            /* default 1 */
	uint16_t port;           /* 0: kernel default 8472 */
	bool gbp, learning;
	bool ipv6;               /* flannel-v6.<VNI> over an IPv6 underlay */
	unsigned mtu;            /* underlay MTU to assume; 0: the device's */
	const char *iface;       /* name or address; NULL: --public-ip or default route */
	struct ipaddr public_ip; /* family 0: unset */
	uint8_t mac[6];
	bool has_mac;
	uint8_t mac_prefix[5];
	unsigned mac_prefix_len;
};

void vxlan_devname(uint32_t vni, bool ipv6, char *buf, size_t len);
/* Create or reuse the device; out describes it (MAC included). */
int vxlan_init(struct nl *nl, const struct vxlan_conf *c, struct nl_link *out);
/* BackendData as upstream writes it: {"VNI":1,"VtepMAC":"..."}; malloc'd. */
char *vxlan_backend_data(uint32_t vni, const uint8_t mac[6]);
/* Give the device the subnet's address (/32 or /128) alone, and set it up. */
int vxlan_setup(struct nl *nl, int ifindex, const struct prefix *own, const uint8_t want_mac[6]);

/* Parse "0E-2A" or "0e:2a" (1..5 bytes). */
int mac_prefix_parse(const char *s, uint8_t out[5], unsigned *len);

struct vxlan_apply {
	bool direct_routing;
	bool setup;              /* configure the device address on the self lease */
};

/*
 * The network config's Backend object ({"Type":"vxlan","VNI":1,"Port":0,
 * "GBP":false,"Learning":false,"DirectRouting":false,"MTU":0,"MacPrefix":".."}),
 * keys matched without regard to case as Go does.  -1 with err on a bad value.
 */
int vxlan_conf_parse_backend(const char *json, struct vxlan_conf *c, struct vxlan_apply *ap,
			     char *err, size_t errlen);
/* The same for the parsed Backend object. */
int vxlan_conf_from_json(json_t *o, struct vxlan_conf *c, struct vxlan_apply *ap, char *err,
			 size_t errlen);
/* The device's MTU: conf_mtu (0: the underlay's) less the encapsulation. */
unsigned vxlan_mtu(unsigned conf_mtu, unsigned underlay, bool ipv6);

#endif
