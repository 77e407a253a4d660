/* vxlan.c - the VXLAN device (upstream's device.go) and the per-lease plan
 * (upstream's vxlan_network.go). */
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

/* Upstream's test for reusing an existing device (flannel-facts.md, 1.3). */
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
	int rc;

	if (c->iface)
		rc = iface_lookup(c->iface, family, ifc);
	else if (c->public_ip.family)
		rc = iface_by_addr(&c->public_ip, ifc);
	else
		rc = iface_default(family, ifc);
	if (rc < 0) {
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
	mtu = (c->mtu ? c->mtu : under.mtu) - (c->ipv6 ? 70 : 50);
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

struct addr_list {
	struct nl_addr a[16];
	int n, ifindex, family;
};

static int collect_addr(const struct nl_addr *a, void *arg)
{
	struct addr_list *l = arg;

	if (a->ifindex != l->ifindex || l->n >= 16)
		return 0;
	/* IPv6 link-local addresses stay: the kernel manages them. */
	if (a->pfx.addr.family == AF_INET6 && a->pfx.addr.b[0] == 0xfe &&
	    (a->pfx.addr.b[1] & 0xc0) == 0x80)
		return 0;
	l->a[l->n++] = *a;
	return 0;
}

int vxlan_setup(struct nl *nl, int ifindex, const struct prefix *own, const uint8_t want_mac[6])
{
	struct addr_list l = { .ifindex = ifindex, .family = own->addr.family };
	struct nl_addr mine = { .ifindex = ifindex, .pfx = { .addr = own->addr } };
	struct nl_link link;
	bool present = false;
	char a[ADDR_STRLEN], m1[20], m2[20];
	int rc;

	mine.pfx.len = (unsigned)addr_bits(own->addr.family);
	rc = nl_addr_dump(nl, own->addr.family, collect_addr, &l);
	for (int i = 0; rc == 0 && i < l.n; i++) {
		if (prefix_equal(&l.a[i].pfx, &mine.pfx)) {
			present = true;
			continue;
		}
		log_info("remove old address %s", prefix_format(&l.a[i].pfx, a, sizeof(a)));
		rc = nl_addr_change(nl, NL_DELETE, &l.a[i]);
	}
	if (rc == 0 && !present)
		rc = nl_addr_change(nl, NL_CREATE, &mine);
	if (rc == 0)
		rc = nl_link_set_up(nl, ifindex);
	if (rc == 0)
		rc = nl_link_get(nl, NULL, ifindex, &link);
	if (rc < 0) {
		log_err("configure address %s: %s", prefix_format(&mine.pfx, a, sizeof(a)),
			nl_strerror(nl, rc));
		return rc;
	}
	/* systemd-udevd may rewrite the MAC after link up (upstream issue #1795). */
	if (want_mac && memcmp(link.mac, want_mac, 6) != 0) {
		log_err("%s's MAC address: wanted %s, but got %s", link.name,
			mac_format(want_mac, m1, sizeof(m1)), mac_format(link.mac, m2, sizeof(m2)));
		return -EADDRNOTAVAIL;
	}
	log_info("%s has address %s", link.name, prefix_format(&mine.pfx, a, sizeof(a)));
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

int vxlan_conf_parse_backend(const char *js, struct vxlan_conf *c, struct vxlan_apply *ap,
			     char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loads(js, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *k;
	int rc = 0;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "Backend is not a JSON object%s%s", o ? "" : ": ",
			 o ? "" : jerr.text);
		json_decref(o);
		return -1;
	}
	json_object_foreach(o, k, v)
		if (rc == 0)
			rc = backend_key(k, v, c, ap, err, errlen);
	json_decref(o);
	return rc;
}
