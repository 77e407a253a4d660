/* ipip.c - the ipip backend (upstream's pkg/backend/ipip): one IP-in-IP
 * device, flannel.ipip, with a local address and no remote; per remote lease
 * a route to its subnet via its public IP onlink through the device (the
 * route's gateway is the outer destination); with DirectRouting a plain
 * route where the remote is on our link.  IPv4 only, no BackendData. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backend/backend.h"
#include "backend/ipip.h"
#include "base/log.h"
#include "netlink/iface.h"

/* Upstream's test for reusing a device: ipip, same local, no remote. */
static bool compatible(const struct nl_link *l, const struct ipaddr *local)
{
	const struct nl_ipip *t = &l->ipip;
	static const struct ipaddr any = { .family = AF_INET };

	if (!l->has_ipip)
		return false;
	if (t->remote.family && !addr_equal(&t->remote, &any))
		return false;
	return addr_equal(&t->local, local);
}

static int create(struct nl *nl, const struct ipaddr *local, unsigned mtu, const char *under)
{
	int rc = nl_ipip_create(nl, IPIP_DEVNAME, local, mtu);

	if (rc == -EOPNOTSUPP) {
		log_err("create %s: this kernel has no ipip support (module ipip)", IPIP_DEVNAME);
		return rc;
	}
	if (rc < 0)
		log_err("create %s: %s", IPIP_DEVNAME, nl_strerror(nl, rc));
	else
		log_info("created %s (mtu %u, underlay %s)", IPIP_DEVNAME, mtu, under);
	return rc;
}

/* An existing flannel.ipip: reuse it, recreate it, or refuse a foreign one. */
static int existing(struct nl *nl, const struct nl_link *have, const struct ipaddr *local)
{
	int rc;

	if (strcmp(have->kind, "ipip") != 0) {
		log_err("use %s: it exists and is not an ipip device (kind \"%s\"); "
			"remove it and try again", IPIP_DEVNAME, have->kind);
		return -EEXIST;
	}
	if (compatible(have, local)) {
		log_info("reusing %s", IPIP_DEVNAME);
		return 0;
	}
	log_warn("%s exists with other settings: deleting and recreating it", IPIP_DEVNAME);
	rc = nl_link_delete(nl, have->ifindex);
	if (rc < 0) {
		log_err("delete %s: %s", IPIP_DEVNAME, nl_strerror(nl, rc));
		return rc;
	}
	return -ENODEV;
}

int ipip_init(struct nl *nl, const char *iface, const struct ipaddr *public_ip,
	      struct nl_link *out)
{
	struct nl_link have;
	struct iface under;
	unsigned mtu;
	int rc;

	if (iface_underlay(iface, public_ip, AF_INET, &under) < 0 || !under.addr.family) {
		log_err("find the underlay interface%s%s: no such interface or IPv4 address",
			iface ? " " : "", iface ? iface : "");
		return -ENODEV;
	}
	mtu = under.mtu - IPIP_OVERHEAD;
	rc = nl_link_get(nl, IPIP_DEVNAME, 0, &have);
	if (rc == 0)
		rc = existing(nl, &have, &under.addr);
	if (rc == -ENODEV)
		rc = create(nl, &under.addr, mtu, under.name);
	if (rc < 0)
		return rc;
	rc = nl_link_get(nl, IPIP_DEVNAME, 0, out);
	if (rc == 0 && out->mtu != mtu && (rc = nl_link_set_mtu(nl, out->ifindex, mtu)) == 0)
		log_info("%s: mtu %u", IPIP_DEVNAME, mtu);
	/* Up before the lease: remote leases may arrive before our own. */
	if (rc == 0 && (rc = nl_link_set_up(nl, out->ifindex)) == 0)
		rc = nl_link_get(nl, IPIP_DEVNAME, 0, out);
	if (rc < 0)
		log_err("configure %s: %s", IPIP_DEVNAME, nl_strerror(nl, rc));
	return rc;
}

int ipip_conf_from_json(json_t *o, struct ipip_apply *ap, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "Backend is not a JSON object");
		return -1;
	}
	json_object_foreach(o, k, v) {
		if (strcasecmp(k, "DirectRouting") != 0)
			continue; /* Type and unknown keys: ignored, as Go does */
		if (!json_is_boolean(v)) {
			snprintf(err, errlen, "Backend.DirectRouting is not true or false");
			return -1;
		}
		ap->direct_routing = json_is_true(v);
	}
	return 0;
}

int ipip_conf_parse_backend(const char *js, struct ipip_apply *ap, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loads(js, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (!o) {
		snprintf(err, errlen, "Backend is not a JSON object: %s", jerr.text);
		return -1;
	}
	rc = ipip_conf_from_json(o, ap, err, errlen);
	json_decref(o);
	return rc;
}

static int ipip_check(const struct net_config *c, char *err, size_t errlen)
{
	struct ipip_apply ap = { 0 };

	return c->backend ? ipip_conf_from_json(c->backend, &ap, err, errlen) : 0;
}

static unsigned ipip_mtu(const struct net_config *c, unsigned underlay)
{
	(void)c;
	return underlay - IPIP_OVERHEAD;
}

static void ipip_args(const struct net_config *c, enum backend_step step,
		      const struct backend_host *h, struct strv *av)
{
	struct ipip_apply ap = { 0 };
	char err[160];

	if (step == BACKEND_INIT) {
		strv_addf(av, "--iface=%s", h->iface);
		strv_addf(av, "--public-ip=%s", h->public_ip);
		return;
	}
	if (c->backend)
		(void)ipip_conf_from_json(c->backend, &ap, err, sizeof(err));
	if (step == BACKEND_APPLY && ap.direct_routing)
		strv_addf(av, "--direct-routing");
}

/* A route via the public IP onlink through flannel.ipip; with DirectRouting
 * a plain route when the peer is on our link. */
static int ipip_plan(struct applier *a, const struct lease *l, int family,
		     struct peer_want *w, char *err, size_t errlen)
{
	const struct apply_opts *o = applier_opts(a);
	const struct ipip_apply *cfg = applier_backend_data(a);
	const struct ipaddr *pub;
	int rc;

	if (family != AF_INET || (!o->dev[0] && !o->dev_seen[0]))
		return 0; /* IPv4 only; no device here */
	if (!(pub = applier_public_ip(l, AF_INET, err, errlen)))
		return -1;
	if (cfg && cfg->direct_routing && (rc = applier_plan_direct(a, pub, w, err, errlen)) != 0)
		return rc;
	w->kind = PEER_TUNNEL;
	w->gw = *pub;
	w->oif = (uint32_t)o->dev[0];
	w->onlink = 1;
	return 1;
}

static int ipip_self(struct applier *a, const struct lease *l)
{
	const struct ipip_apply *cfg = applier_backend_data(a);
	const struct apply_opts *o = applier_opts(a);
	struct nl_link link;

	if (!cfg || !cfg->setup || !l->subnet.addr.family || !o->dev[0])
		return 0;
	return apply_dev_address(applier_nl(a), o->dev[0], &l->subnet, &link) < 0 ? -1 : 0;
}

static const struct apply_backend ipip_kernel_plan = {
	.name = "ipip", .plan = ipip_plan, .self = ipip_self,
};

static void ipip_device(const struct net_config *c, int family, char *buf, size_t len)
{
	(void)c;
	/* IPv4 only */
	snprintf(buf, len, "%s", family == AF_INET ? "flannel.ipip" : "");
}

const struct backend backend_ipip = {
	.name = "ipip",
	.about = "IP-in-IP device flannel.ipip: a route per host via its public IP (IPv4 only)",
	.lease_type = "ipip",
	.tool = "flannel-ipip",
	.step_cmd = { [BACKEND_INIT] = "init", [BACKEND_APPLY] = "apply" },
	.kernel = true,
	.ipv6 = false, /* upstream has no IPv6 route for ipip and crashes on EnableIPv6 */
	.check = ipip_check,
	.mtu = ipip_mtu,
	.args = ipip_args,
	.plan = &ipip_kernel_plan,
	.device = ipip_device,
};
