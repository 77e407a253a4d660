/* check_host.c - the checks about this host alone: subnet.env against
 * etcd, the backend's device, its checksum offload, our own subnet's
 * routes, and rp_filter against the routes back to the peers. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/ethtool.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check/check_priv.h"

static char *pfx(const struct prefix *p, char *buf)
{
	return (char *)prefix_format(p, buf, ADDR_STRLEN);
}

static char *ip(const struct ipaddr *a, char *buf)
{
	return (char *)addr_format(a, buf, ADDR_STRLEN);
}

static const char *start_fix(const struct check *c)
{
	return c->be && c->be->tool && !strcmp(c->be->tool, "flannel-vxlan")
		       ? "start flannel-lease (or flanneld): it acquires the lease and writes the file"
		       : "start flanneld (or flannel-lease): it acquires the lease and writes the file";
}

void check_env(struct check *c)
{
	const char *f = c->o->subnet_file;
	char a[ADDR_STRLEN], b[ADDR_STRLEN], p[ADDR_STRLEN];
	bool have_self = c->self.subnet.addr.family != 0;

	if (c->env_errno) {
		if (have_self)
			check_report(c, CHECK_FAIL, "subnet.env", f, start_fix(c),
				     "%s; etcd has lease %s for %s", strerror(c->env_errno),
				     pfx(&c->self.subnet, a), ip(&c->self.public_ip, b));
		else
			check_report(c, CHECK_FAIL, "subnet.env", f, start_fix(c),
				     "%s, and no lease in etcd has a public IP of this host",
				     strerror(c->env_errno));
		return;
	}
	if (!c->env.subnet.addr.family) {
		check_report(c, CHECK_FAIL, "subnet.env", f, start_fix(c), "has no FLANNEL_SUBNET");
		return;
	}
	if (c->env.network.addr.family && !prefix_equal(&c->env.network, &c->cfg.network)) {
		check_report(c, CHECK_FAIL, "subnet.env", f,
			     "restart flannel-lease: it rewrites the file from the config",
			     "FLANNEL_NETWORK %s, but the network config says %s",
			     pfx(&c->env.network, a), pfx(&c->cfg.network, b));
		return;
	}
	if (!have_self) {
		check_report(c, CHECK_FAIL, "subnet.env", f,
			     "restart flannel-lease: it acquires a lease and rewrites the file",
			     "FLANNEL_SUBNET %s has no lease in etcd, nor has any public IP of "
			     "this host", pfx(&c->env.subnet, a));
		return;
	}
	if (!prefix_equal(&c->self.subnet, &c->env.subnet)) {
		check_report(c, CHECK_FAIL, "subnet.env", f,
			     "restart flannel-lease: it rewrites the file with the lease it keeps",
			     "FLANNEL_SUBNET %s, but etcd's lease for %s is %s", pfx(&c->env.subnet, a),
			     ip(&c->self.public_ip, p), pfx(&c->self.subnet, b));
		return;
	}
	check_report(c, CHECK_OK, "subnet.env", f, NULL, "FLANNEL_SUBNET %s is etcd's lease %s of %s",
		     pfx(&c->env.subnet, a), c->self_key, ip(&c->self.public_ip, b));
}

struct addr_find {
	int ifindex;
	struct prefix want;
	bool found;
};

static int on_addr(const struct nl_addr *a, void *arg)
{
	struct addr_find *f = arg;

	if (a->ifindex == f->ifindex && prefix_equal(&a->pfx, &f->want))
		f->found = true;
	return 0;
}

/* One family's device: its name, what the kernel has, our subnet. */
struct devview {
	const char *name;
	const struct nl_link *link;
	bool exists;
	const struct prefix *own;
	json_t *data; /* our lease's BackendData of that family */
};

/* The device's address and MAC as the applier and the lease have them:
 * NULL, or what is wrong (in buf). */
static const char *device_mismatch(struct check *c, const struct devview *d, char *buf,
				   size_t len, char *fix, size_t fixlen)
{
	int fam = d->own->addr.family;
	struct addr_find f = { .ifindex = d->link->ifindex,
			       .want = { .addr = d->own->addr, .len = (unsigned)addr_bits(fam) } };
	json_t *m = json_object_get(d->data, "VtepMAC");
	uint8_t mac[6];
	char a[ADDR_STRLEN], m1[20], m2[20];

	if (fam && nl_addr_dump(c->nl, fam, on_addr, &f) == 0 && !f.found) {
		snprintf(buf, len, "has no address %s/%u: peers' echoes and ICMP errors have no "
			 "source", ip(&d->own->addr, a), f.want.len);
		snprintf(fix, fixlen, "restart %s: it sets the address when it sees our lease",
			 c->be->tool ? c->be->tool : "flanneld");
		return buf;
	}
	if (!strcmp(d->link->kind, "vxlan") && json_is_string(m) &&
	    mac_parse(json_string_value(m), mac) == 0 && memcmp(mac, d->link->mac, 6) != 0) {
		snprintf(buf, len, "MAC %s is not our lease's VtepMAC %s: the peers send to a MAC "
			 "nobody has (udev rewriting it: upstream flannel #1795)",
			 mac_format(d->link->mac, m1, sizeof(m1)), mac_format(mac, m2, sizeof(m2)));
		snprintf(fix, fixlen, "ip link set %s address %s, and keep udev off it "
			 "(MACAddressPolicy=none for %s)", d->name, m2, d->name);
		return buf;
	}
	return NULL;
}

static void device_one(struct check *c, const struct devview *d)
{
	const char *tool = c->be->tool ? c->be->tool : "flanneld";
	char fix[256], why[256];

	if (!d->exists) {
		snprintf(fix, sizeof(fix), "start %s (flanneld runs it): it creates %s", tool,
			 d->name);
		check_report(c, CHECK_FAIL, "device", d->name, fix, "does not exist");
		return;
	}
	if (!(d->link->flags & IFF_UP)) {
		snprintf(fix, sizeof(fix), "ip link set %s up (or restart %s)", d->name, tool);
		check_report(c, CHECK_FAIL, "device", d->name, fix, "is down");
		return;
	}
	/* FLANNEL_MTU is the IPv4 device's */
	if (d->link == &c->dev && c->env_errno == 0 && c->env.mtu && d->link->mtu < c->env.mtu) {
		snprintf(fix, sizeof(fix), "ip link set %s mtu %u, or restart flannel-lease with the "
			 "device's MTU", d->name, c->env.mtu);
		check_report(c, CHECK_FAIL, "device", d->name, fix,
			     "MTU %u is below FLANNEL_MTU %u: containers send packets it drops",
			     d->link->mtu, c->env.mtu);
		return;
	}
	if (device_mismatch(c, d, why, sizeof(why), fix, sizeof(fix))) {
		check_report(c, CHECK_FAIL, "device", d->name, fix, "%s", why);
		return;
	}
	check_report(c, CHECK_OK, "device", d->name, NULL, "is up, MTU %u", d->link->mtu);
}

void check_device(struct check *c)
{
	const struct devview v4 = { c->devname, &c->dev, c->has_dev, &c->own,
				    c->self.backend_data };
	const struct devview v6 = { c->devname6, &c->dev6, c->has_dev6, &c->own6,
				    c->self.backend_v6_data };

	/* host-gw, extension: no device of ours */
	if (c->devname[0])
		device_one(c, &v4);
	if (c->devname6[0])
		device_one(c, &v6);
}

/*
 * tx checksum offload on the vxlan device: read with the SIOCETHTOOL ioctl
 * (ETHTOOL_GTXCSUM, any of the device's checksum features, which for a vxlan
 * device is tx-checksum-ip-generic alone); /sys does not show offloads.
 */
void check_offload(struct check *c)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GTXCSUM };
	struct ifreq ifr = { 0 };
	char fix[128];
	int fd;

	if (!c->has_dev || strcmp(c->dev.kind, "vxlan") != 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", c->devname);
	ifr.ifr_data = (char *)&ev;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		check_report(c, CHECK_SKIP, "offload", c->devname, NULL, "ethtool ioctl: %s",
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	snprintf(fix, sizeof(fix), "ethtool -K %s tx-checksum-ip-generic off", c->devname);
	if (ev.data)
		check_report(c, CHECK_WARN, "offload", c->devname, fix,
			     "tx checksum offload is on (the kernel's default): some NICs, "
			     "hypervisors and NATs send VXLAN packets with bad checksums that the "
			     "peers drop (upstream flannel #1279, #2152); if TCP over the overlay "
			     "stalls while ping works, turn it off");
	else
		check_report(c, CHECK_OK, "offload", c->devname, NULL, "tx checksum offload is off");
}

/* Is r a route that takes traffic for our own subnet away from this host? */
static bool routes_away(const struct check *c, const struct nl_route *r)
{
	if (!prefix_overlaps(&r->dst, &c->own) || r->dst.len < c->own.len)
		return false;
	if (c->has_dev && r->oif == (uint32_t)c->dev.ifindex)
		return true;
	return r->gw.family != 0 || r->nhid != 0;
}

void check_own_route(struct check *c)
{
	char own[ADDR_STRLEN], dst[ADDR_STRLEN], gw[ADDR_STRLEN], fix[320], dev[IF_NAMESIZE];

	if (!c->own.addr.family)
		return;
	pfx(&c->own, own);
	for (size_t i = 0; i < c->k.n_routes; i++) {
		const struct nl_route *r = &c->k.routes[i];

		if (!routes_away(c, r))
			continue;
		if (!if_indextoname(r->oif, dev))
			snprintf(dev, sizeof(dev), "%u", r->oif);
		pfx(&r->dst, dst);
		if (r->gw.family)
			ip(&r->gw, gw);
		snprintf(fix, sizeof(fix), "ip route del %s%s%s (no flannel tool routes our own "
			 "subnet: a stale or foreign route)", dst, r->gw.family ? " via " : "",
			 r->gw.family ? gw : "");
		check_report(c, CHECK_FAIL, "own-route", own, fix,
			     "%s goes %s%s dev %s (protocol %u): traffic for our own containers "
			     "leaves the host", dst, r->gw.family ? "via " : "",
			     r->gw.family ? gw : (r->nhid ? "to a nexthop" : ""), dev, r->protocol);
		return;
	}
	check_report(c, CHECK_OK, "own-route", own, NULL, "no route sends it away from this host");
}

/* net.ipv4.conf.NAME.rp_filter: 0, 1, 2, or -1. */
static int rp_read(const char *name)
{
	char path[128], buf[8];
	int fd, v = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0 && buf[0] >= '0' && buf[0] <= '2')
		v = buf[0] - '0';
	return v;
}

/* The kernel takes the larger of "all" and the device's. */
static int rp_effective(uint32_t ifindex, char *name)
{
	int all, dev;

	if (!if_indextoname(ifindex, name))
		return -1;
	all = rp_read("all");
	dev = rp_read(name);
	return all > dev ? all : dev;
}

/* One peer under rp_filter: its packets arrive on w.oif; 1 when the route
 * back to its subnet leaves through another interface (strict) or there is
 * none (loose), with why. */
static int rp_drops(struct check *c, const struct check_peer *p, int mode, char *why, size_t len)
{
	struct nl_route r;
	char a[ADDR_STRLEN], dev[IF_NAMESIZE];
	int rc = nl_route_get(c->nl, &p->l.subnet.addr, &r);

	if (rc < 0 || r.type != RTN_UNICAST) {
		snprintf(why, len, "%s has no route back", pfx(&p->l.subnet, a));
		return 1;
	}
	if (mode == 1 && r.oif != p->w.oif) {
		if (!if_indextoname(r.oif, dev))
			snprintf(dev, sizeof(dev), "%u", r.oif);
		snprintf(why, len, "the route back to %s leaves through %s", pfx(&p->l.subnet, a),
			 dev);
		return 1;
	}
	return 0;
}

void check_rp_filter(struct check *c)
{
	char name[IF_NAMESIZE] = "", why[160], fix[256], subj[IF_NAMESIZE + 16];
	int mode = -1, bad = 0, checked = 0;

	for (size_t i = 0; i < c->n_peers; i++) {
		const struct check_peer *p = &c->peers[i];
		int m;

		if (!p->selected || p->planned != 1 || !p->w.oif)
			continue;
		m = rp_effective(p->w.oif, name);
		if (m <= 0)
			continue;
		checked++;
		if (!bad && rp_drops(c, p, m, why, sizeof(why))) {
			bad = 1;
			mode = m;
			snprintf(subj, sizeof(subj), "%s", name);
		}
	}
	if (bad) {
		snprintf(fix, sizeof(fix), "route the peer back through %s, or make it loose: sysctl "
			 "-w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2", subj, subj);
		check_report(c, CHECK_FAIL, "rp_filter", subj, fix,
			     "%s (%d) drops what arrives from a peer: %s",
			     mode == 1 ? "strict" : "loose", mode, why);
		return;
	}
	if (checked)
		check_report(c, CHECK_OK, "rp_filter", name[0] ? name : NULL, NULL,
			     "on; every peer's subnet routes back through the interface it comes in on");
	else
		check_report(c, CHECK_OK, "rp_filter", NULL, NULL,
			     "off on the interfaces the peers come in on");
}
