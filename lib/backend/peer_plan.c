/* peer_plan.c - what each backend installs for one remote lease: vxlan
 * (upstream's vxlan_network.go) and host-gw (upstream's route_network.go). */
#include <errno.h>
#include <jansson.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "backend/vxlan.h"
#include "base/log.h"

/* The kernel's own lookup: direct when the route has no gateway (upstream's test). */
static int direct_oif(struct nl *nl, const struct ipaddr *ip, uint32_t *oif)
{
	struct nl_route r;
	int rc = nl_route_get(nl, ip, &r);

	if (rc < 0)
		return rc;
	if (r.gw.family || !r.oif || r.type != RTN_UNICAST)
		return 0;
	*oif = r.oif;
	return 1;
}

static const struct ipaddr *public_of(const struct lease *l, int family)
{
	return family == AF_INET6 ? &l->public_ip6 : &l->public_ip;
}

static const struct prefix *subnet_of(const struct lease *l, int family)
{
	return family == AF_INET6 ? &l->subnet6 : &l->subnet;
}

static int vtep_mac(json_t *data, uint8_t mac[6], char *err, size_t errlen)
{
	json_t *m, *vni;
	static const uint8_t zero[6];

	if (!json_is_object(data)) {
		snprintf(err, errlen, "BackendData is not an object with VtepMAC");
		return -1;
	}
	m = json_object_get(data, "VtepMAC");
	if (!json_is_string(m) || mac_parse(json_string_value(m), mac) < 0) {
		snprintf(err, errlen, "VtepMAC is not a MAC address");
		return -1;
	}
	if ((mac[0] & 1) || memcmp(mac, zero, 6) == 0) {
		snprintf(err, errlen, "VtepMAC %s is not a unicast MAC address",
			 json_string_value(m));
		return -1;
	}
	vni = json_object_get(data, "VNI");
	if (vni && (!json_is_integer(vni) || json_integer_value(vni) < 0 ||
		    json_integer_value(vni) > (json_int_t)VXLAN_VNI_MAX)) {
		snprintf(err, errlen, "VNI is not an integer within 0..%u", VXLAN_VNI_MAX);
		return -1;
	}
	return 0;
}

static int vxlan_plan(struct applier *a, const struct lease *l, int family,
		      struct peer_want *w, char *err, size_t errlen)
{
	const struct apply_opts *o = applier_opts(a);
	const struct vxlan_apply *cfg = applier_backend_data(a);
	const struct ipaddr *pub = public_of(l, family);
	json_t *data = family == AF_INET6 ? l->backend_v6_data : l->backend_data;
	int dev = o->dev[family == AF_INET6], rc;

	if (!dev && !o->dev_seen[family == AF_INET6])
		return 0; /* no device for this family here */
	if (!pub->family || addr_is_unusable(pub)) {
		snprintf(err, errlen, "no usable public IPv%d address", family == AF_INET6 ? 6 : 4);
		return -1;
	}
	if (vtep_mac(data, w->mac, err, errlen) < 0)
		return -1;
	if (cfg && cfg->direct_routing) {
		rc = direct_oif(applier_nl(a), pub, &w->oif);
		if (rc < 0) {
			snprintf(err, errlen, "look up the route to the public IP: %s",
				 strerror(-rc));
			return -1;
		}
		if (rc == 1) {
			w->kind = PEER_GW;
			w->gw = *pub;
			return 1;
		}
	}
	w->kind = PEER_ENCAP;
	w->gw = subnet_of(l, family)->addr;
	w->oif = (uint32_t)dev;
	w->onlink = 1;
	w->vtep = *pub;
	return 1;
}

static int vxlan_self(struct applier *a, const struct lease *l)
{
	const struct vxlan_apply *cfg = applier_backend_data(a);
	const struct apply_opts *o = applier_opts(a);
	int rc = 0;

	if (!cfg || !cfg->setup)
		return 0;
	if (l->subnet.addr.family && o->dev[0])
		rc = vxlan_setup(applier_nl(a), o->dev[0], &l->subnet, NULL);
	if (rc == 0 && l->subnet6.addr.family && o->dev[1])
		rc = vxlan_setup(applier_nl(a), o->dev[1], &l->subnet6, NULL);
	return rc < 0 ? -1 : 0;
}

const struct apply_backend vxlan_backend = {
	.name = "vxlan", .plan = vxlan_plan, .self = vxlan_self,
};

/* host-gw: a route via the remote's public IP, only if it is on our link. */
static int hostgw_plan(struct applier *a, const struct lease *l, int family,
		       struct peer_want *w, char *err, size_t errlen)
{
	const struct ipaddr *pub = public_of(l, family);
	const struct apply_opts *o = applier_opts(a);
	char ip[ADDR_STRLEN];
	int rc;

	if (!pub->family) {
		if (family == AF_INET6)
			return 0; /* an IPv4-only peer: nothing to do for IPv6 */
		snprintf(err, errlen, "no public IPv4 address");
		return -1;
	}
	if (addr_is_unusable(pub)) {
		snprintf(err, errlen, "public IP %s is not usable",
			 addr_format(pub, ip, sizeof(ip)));
		return -1;
	}
	rc = direct_oif(applier_nl(a), pub, &w->oif);
	if (rc <= 0) {
		snprintf(err, errlen, "%s is not directly reachable on the underlay%s%s",
			 addr_format(pub, ip, sizeof(ip)), rc < 0 ? ": " : "",
			 rc < 0 ? strerror(-rc) : " (host-gw needs one layer-2 network)");
		return -1;
	}
	if (o->iface && w->oif != (uint32_t)o->iface) {
		snprintf(err, errlen, "%s is reachable only through another interface",
			 addr_format(pub, ip, sizeof(ip)));
		return -1;
	}
	w->kind = PEER_GW;
	w->gw = *pub;
	return 1;
}

const struct apply_backend hostgw_backend = {
	.name = "host-gw", .plan = hostgw_plan,
};
