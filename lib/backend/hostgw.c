/* hostgw.c - the host-gw backend (upstream's route_network.go): a route to
 * each remote subnet via the remote's public IP, for remotes on our own
 * layer-2 network only.  No device, no BackendData, the underlay's MTU. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

static int hostgw_plan(struct applier *a, const struct lease *l, int family,
		       struct peer_want *w, char *err, size_t errlen)
{
	const struct ipaddr *pub = lease_public_of(l, family);
	const struct apply_opts *o = applier_opts(a);
	char ip[ADDR_STRLEN];
	int rc;

	if (!pub->family && family == AF_INET6)
		return 0; /* an IPv4-only peer: nothing to do for IPv6 */
	if (!applier_public_ip(l, family, err, errlen))
		return -1;
	rc = applier_direct_oif(a, pub, &w->oif);
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

static void hostgw_args(const struct net_config *c, enum backend_step step,
			const struct backend_host *h, struct strv *av)
{
	(void)c;
	if (step == BACKEND_APPLY)
		strv_addf(av, "--iface=%s", h->iface);
}

static const struct apply_backend hostgw_kernel_plan = {
	.name = "host-gw", .plan = hostgw_plan,
};

const struct backend backend_hostgw = {
	.name = "host-gw",
	.about = "a route per host via its public IP (hosts on one layer-2 network)",
	.lease_type = "host-gw",
	.tool = "flannel-route",
	.step_cmd = { [BACKEND_APPLY] = "apply" },
	.kernel = true,
	.ipv6 = true,
	.mtu = backend_mtu_underlay,
	.args = hostgw_args,
	.plan = &hostgw_kernel_plan,
};
