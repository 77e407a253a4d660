/* vxlan.c - the vxlan backend: its Backend keys, the device as upstream
 * creates it (upstream's device.go), its BackendData, its MTU rule, its
 * flanneld command lines and its plan per remote lease (upstream's
 * vxlan_network.go). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/vxlan.h"
#include "base/hex.h"
#include "base/log.h"
#include "base/mem.h"
#include "netlink/iface.h"

void vxlan_devname(uint32_t vni, bool ipv6, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%u", ipv6 ? "flannel-v6" : "flannel", vni);
}

/* 1..5 bytes: "0E-2A" (upstream's Windows form) or "0e:2a". */
int mac_prefix_parse(const char *s, uint8_t out[5], unsigned *len)
{
	size_t n = strlen(s);

	if (n < 2 || n > 14 || (n + 1) % 3 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);

		if (hi < 0 || lo < 0 || (i + 2 < n && s[i + 2] != '-' && s[i + 2] != ':'))
			return -1;
		out[i / 3] = (uint8_t)(hi << 4 | lo);
	}
	*len = (unsigned)((n + 1) / 3);
	return 0;
}

static int random_mac(const struct vxlan_conf *c, uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		return -1;
	/* Locally administered unicast, as upstream's pkg/mac. */
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
	memcpy(mac, c->mac_prefix, c->mac_prefix_len);
	return 0;
}

/* Upstream's test for reusing an existing device: a vxlan with the same VNI,
 * and the same link, local address and port where both name one. */
static bool compatible(const struct nl_link *l, const struct nl_vxlan *want)
{
	const struct nl_vxlan *h = &l->vxlan;

	if (!l->has_vxlan || strcmp(l->kind, "vxlan") != 0 || h->vni != want->vni)
		return false;
	if (h->link && want->link && h->link != want->link)
		return false;
	if (h->local.family && want->local.family && !addr_equal(&h->local, &want->local))
		return false;
	if (h->port && want->port && h->port != want->port)
		return false;
	return h->gbp == want->gbp;
}

static void set_accept_ra(const char *dev)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "0\n", 2) != 2)
		log_debug("write %s: %s", path, strerror(errno));
	close(fd);
}

static int create(struct nl *nl, const struct vxlan_conf *c, const char *name,
		  const struct nl_vxlan *vx, unsigned mtu)
{
	uint8_t mac[6];
	int rc;

	if (c->has_mac)
		memcpy(mac, c->mac, 6);
	else if (random_mac(c, mac) < 0) {
		log_err("make a MAC address: %s", strerror(errno));
		return -errno;
	}
	rc = nl_vxlan_create(nl, name, vx, mtu, mac);
	if (rc < 0)
		log_err("create %s: %s", name, nl_strerror(nl, rc));
	return rc;
}

/* --iface (name or address), else the holder of --public-ip, else the
 * default route's interface; the VTEP source is --public-ip or its address. */
static int find_underlay(const struct vxlan_conf *c, int family, struct iface *ifc)
{
	if (iface_underlay(c->iface, &c->public_ip, family, ifc) < 0) {
		log_err("find the underlay interface%s%s: no such interface or address",
			c->iface ? " " : "", c->iface ? c->iface : "");
		return -ENODEV;
	}
	if (c->public_ip.family)
		ifc->addr = c->public_ip;
	if (ifc->addr.family != family) {
		log_err("find an IPv%d address on %s: none", family == AF_INET6 ? 6 : 4, ifc->name);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

int vxlan_init(struct nl *nl, const struct vxlan_conf *c, struct nl_link *out)
{
	int family = c->ipv6 ? AF_INET6 : AF_INET, rc;
	struct nl_link have;
	struct iface under;
	struct nl_vxlan vx = { .vni = c->vni, .port = c->port, .gbp = c->gbp,
			       .learning = c->learning };
	char name[IFNAMSIZ];
	unsigned mtu;

	rc = find_underlay(c, family, &under);
	if (rc < 0)
		return rc;
	vx.link = (uint32_t)under.index;
	vx.local = under.addr;
	/* The kernel would clamp to these anyway; asking for them says so. */
	mtu = vxlan_mtu(c->mtu, under.mtu, c->ipv6);
	vxlan_devname(c->vni, c->ipv6, name, sizeof(name));
	rc = nl_link_get(nl, name, 0, &have);
	if (rc == 0 && !compatible(&have, &vx)) {
		log_warn("%s exists with other settings: deleting and recreating it", name);
		if ((rc = nl_link_delete(nl, have.ifindex)) < 0) {
			log_err("delete %s: %s", name, nl_strerror(nl, rc));
			return rc;
		}
		rc = -ENODEV;
	}
	if (rc == -ENODEV) {
		rc = create(nl, c, name, &vx, mtu);
		if (rc == 0)
			log_info("created %s (VNI %u, underlay %s)", name, c->vni, under.name);
	} else if (rc == 0) {
		log_info("reusing %s", name);
	}
	if (rc < 0)
		return rc;
	if (c->ipv6)
		set_accept_ra(name);
	rc = nl_link_get(nl, name, 0, out);
	/* Up before the lease: remote leases may arrive before our own. */
	if (rc == 0 && !(out->flags & IFF_UP) && (rc = nl_link_set_up(nl, out->ifindex)) == 0)
		rc = nl_link_get(nl, name, 0, out);
	if (rc < 0)
		log_err("read back %s: %s", name, nl_strerror(nl, rc));
	return rc;
}

char *vxlan_backend_data(uint32_t vni, const uint8_t mac[6])
{
	char m[20];
	json_t *o = json_pack("{s:I,s:s}", "VNI", (json_int_t)vni, "VtepMAC",
			      mac_format(mac, m, sizeof(m)));
	char *s;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

int vxlan_setup(struct nl *nl, int ifindex, const struct prefix *own, const uint8_t want_mac[6])
{
	struct nl_link link;
	char m1[20], m2[20];
	int rc = apply_dev_address(nl, ifindex, own, &link);

	if (rc < 0)
		return rc;
	/* systemd-udevd may rewrite the MAC after link up (upstream issue #1795). */
	if (want_mac && memcmp(link.mac, want_mac, 6) != 0) {
		log_err("%s's MAC address: wanted %s, but got %s", link.name,
			mac_format(want_mac, m1, sizeof(m1)), mac_format(link.mac, m2, sizeof(m2)));
		return -EADDRNOTAVAIL;
	}
	return 0;
}

static int backend_int(json_t *v, const char *name, long max, long *out, char *err,
		       size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		snprintf(err, errlen, "Backend.%s is not an integer within 0..%ld", name, max);
		return -1;
	}
	*out = (long)json_integer_value(v);
	return 0;
}

static int backend_bool(json_t *v, const char *name, bool *out, char *err, size_t errlen)
{
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "Backend.%s is not true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int backend_key(const char *k, json_t *v, struct vxlan_conf *c, struct vxlan_apply *ap,
		       char *err, size_t errlen)
{
	long n;

	if (!strcasecmp(k, "VNI")) {
		if (backend_int(v, "VNI", VXLAN_VNI_MAX, &n, err, errlen) < 0)
			return -1;
		c->vni = (uint32_t)n;
	} else if (!strcasecmp(k, "Port")) {
		if (backend_int(v, "Port", 65535, &n, err, errlen) < 0)
			return -1;
		c->port = (uint16_t)n;
	} else if (!strcasecmp(k, "MTU")) {
		if (backend_int(v, "MTU", 65535, &n, err, errlen) < 0)
			return -1;
		c->mtu = (unsigned)n;
	} else if (!strcasecmp(k, "GBP")) {
		return backend_bool(v, "GBP", &c->gbp, err, errlen);
	} else if (!strcasecmp(k, "Learning")) {
		return backend_bool(v, "Learning", &c->learning, err, errlen);
	} else if (!strcasecmp(k, "DirectRouting")) {
		return backend_bool(v, "DirectRouting", &ap->direct_routing, err, errlen);
	} else if (!strcasecmp(k, "MacPrefix")) {
		if (!json_is_string(v) ||
		    mac_prefix_parse(json_string_value(v), c->mac_prefix, &c->mac_prefix_len) < 0) {
			snprintf(err, errlen, "Backend.MacPrefix is not like \"0E-2A\"");
			return -1;
		}
	}
	return 0; /* Type, Name and unknown keys: ignored, as Go does */
}

int vxlan_conf_from_json(json_t *o, struct vxlan_conf *c, struct vxlan_apply *ap, char *err,
			 size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "Backend is not a JSON object");
		return -1;
	}
	json_object_foreach(o, k, v)
		if (backend_key(k, v, c, ap, err, errlen) < 0)
			return -1;
	return 0;
}

int vxlan_conf_parse_backend(const char *js, struct vxlan_conf *c, struct vxlan_apply *ap,
			     char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loads(js, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (!o) {
		snprintf(err, errlen, "Backend is not a JSON object: %s", jerr.text);
		return -1;
	}
	rc = vxlan_conf_from_json(o, c, ap, err, errlen);
	json_decref(o);
	return rc;
}

/* The kernel's MTU for the device and FLANNEL_MTU: the VXLAN, UDP and outer
 * IP headers come off the underlay's (or Backend.MTU's) MTU. */
unsigned vxlan_mtu(unsigned conf_mtu, unsigned underlay, bool ipv6)
{
	return (conf_mtu ? conf_mtu : underlay) - (ipv6 ? 70 : 50);
}

/* The vxlan keys as flannel-vxlan's flags, parsed once, here. */
static void config_of(const struct net_config *c, struct vxlan_conf *vc, struct vxlan_apply *ap)
{
	char err[160];

	*vc = (struct vxlan_conf){ .vni = 1 };
	*ap = (struct vxlan_apply){ .setup = true };
	if (c->backend)
		(void)vxlan_conf_from_json(c->backend, vc, ap, err, sizeof(err));
}

static int vxlan_check(const struct net_config *c, char *err, size_t errlen)
{
	struct vxlan_conf vc = { .vni = 1 };
	struct vxlan_apply ap = { 0 };

	return c->backend ? vxlan_conf_from_json(c->backend, &vc, &ap, err, errlen) : 0;
}

static unsigned mtu_rule(const struct net_config *c, unsigned underlay)
{
	struct vxlan_conf vc;
	struct vxlan_apply ap;

	config_of(c, &vc, &ap);
	/* Upstream takes Backend.MTU only when it is a plausible link MTU. */
	return vxlan_mtu(vc.mtu > 100 ? vc.mtu : 0, underlay, false);
}

static void vxlan_args(const struct net_config *c, enum backend_step step,
		       const struct backend_host *h, struct strv *av)
{
	struct vxlan_conf vc;
	struct vxlan_apply ap;

	config_of(c, &vc, &ap);
	strv_addf(av, "--vni=%u", vc.vni);
	if (step == BACKEND_APPLY) {
		if (ap.direct_routing)
			strv_addf(av, "--direct-routing");
		return;
	}
	if (vc.port)
		strv_addf(av, "--port=%u", vc.port);
	if (vc.gbp)
		strv_addf(av, "--gbp");
	if (vc.learning)
		strv_addf(av, "--learning");
	if (vc.mtu)
		strv_addf(av, "--mtu=%u", vc.mtu);
	if (vc.mac_prefix_len) {
		char mp[16];
		size_t n = 0;

		for (unsigned i = 0; i < vc.mac_prefix_len; i++)
			n += (size_t)snprintf(mp + n, sizeof(mp) - n, "%s%02X", i ? "-" : "",
					      vc.mac_prefix[i]);
		strv_addf(av, "--mac-prefix=%s", mp);
	}
	strv_addf(av, "--iface=%s", h->iface);
	if (h->family == AF_INET6)
		strv_addf(av, "-6");
	strv_addf(av, "--public-ip%s=%s", h->family == AF_INET6 ? "v6" : "", h->public_ip);
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

/* A neighbour, an FDB entry and a route onlink through the device; with
 * DirectRouting, a plain route when the peer is on our link. */
static int vxlan_plan(struct applier *a, const struct lease *l, int family,
		      struct peer_want *w, char *err, size_t errlen)
{
	const struct apply_opts *o = applier_opts(a);
	const struct vxlan_apply *cfg = applier_backend_data(a);
	const struct ipaddr *pub = lease_public_of(l, family);
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
	if (cfg && cfg->direct_routing && (rc = applier_plan_direct(a, pub, w, err, errlen)) != 0)
		return rc;
	w->kind = PEER_ENCAP;
	w->gw = lease_subnet_of(l, family)->addr;
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

static void vxlan_device(const struct net_config *c, int family, char *buf, size_t len)
{
	struct vxlan_conf vc;
	struct vxlan_apply ap;

	config_of(c, &vc, &ap);
	vxlan_devname(vc.vni, family == AF_INET6, buf, len);
}

/* Backend.Port, else the kernel's default (upstream's too). */
static unsigned vxlan_port(const struct net_config *c)
{
	struct vxlan_conf vc;
	struct vxlan_apply ap;

	config_of(c, &vc, &ap);
	return vc.port ? vc.port : 8472;
}

static const struct apply_backend vxlan_kernel_plan = {
	.name = "vxlan", .plan = vxlan_plan, .self = vxlan_self,
};

const struct backend backend_vxlan = {
	.name = "vxlan",
	.about = "VXLAN device flannel.<VNI>: neighbour, FDB entry and route per host",
	.lease_type = "vxlan",
	.tool = "flannel-vxlan",
	.step_cmd = { [BACKEND_INIT] = "init", [BACKEND_APPLY] = "apply" },
	.init_per_family = true,
	.kernel = true,
	.ipv6 = true,
	.check = vxlan_check,
	.mtu = mtu_rule,
	.args = vxlan_args,
	.plan = &vxlan_kernel_plan,
	.device = vxlan_device,
	.port = vxlan_port,
};
