/* apply_peer.c - one remote subnet: diff what it needs against what the
 * kernel has and queue the difference, in upstream's order (neighbour, FDB,
 * route) so that no packet is sent before its VTEP is known. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply_priv.h"
#include "base/log.h"
#include "base/mem.h"

void peer_key(struct prefix *key, const struct prefix *p)
{
	memset(key, 0, sizeof(*key));
	key->addr.family = p->addr.family;
	memcpy(key->addr.b, p->addr.b, p->addr.family == AF_INET6 ? 16 : 4);
	key->len = p->len;
}

struct peer *peer_find(struct applier *a, const struct prefix *subnet)
{
	struct prefix key;

	peer_key(&key, subnet);
	return htab_get(&a->peers, &key);
}

int dev_of(const struct applier *a, int family)
{
	return a->o.dev[family == AF_INET6];
}

static struct cookie mk_cookie(uint8_t obj, enum nl_op op, const struct peer *p)
{
	struct cookie c;

	memset(&c, 0, sizeof(c));
	c.obj = obj;
	c.op = (uint8_t)op;
	c.subnet = p->subnet;
	return c;
}

static int queue_neigh(struct applier *a, enum nl_op op, const struct peer *p, int dev,
		       const uint8_t mac[6])
{
	struct nl_neigh n = {
		.family = p->subnet.addr.family, .ifindex = dev, .ip = p->subnet.addr,
		.state = NUD_PERMANENT, .protocol = RTPROT_FLANNEL,
	};
	struct cookie c = mk_cookie(OBJ_NEIGH, op, p);

	memcpy(n.mac, mac, 6);
	c.ifindex = dev;
	return nl_neigh_queue(a->nl, op, &n, &c, sizeof(c));
}

static int queue_fdb(struct applier *a, enum nl_op op, int dev, const uint8_t mac[6],
		     const struct ipaddr *dst, const struct prefix *subnet)
{
	struct nl_neigh n = {
		.family = AF_BRIDGE, .ifindex = dev, .ip = *dst,
		.state = NUD_PERMANENT, .flags = NTF_SELF,
	};
	struct cookie c;

	memset(&c, 0, sizeof(c));
	c.obj = OBJ_FDB;
	c.op = (uint8_t)op;
	c.ifindex = dev;
	if (subnet)
		c.subnet = *subnet;
	memcpy(c.mac, mac, 6);
	memcpy(n.mac, mac, 6);
	return nl_neigh_queue(a->nl, op, &n, &c, sizeof(c));
}

/* Take a reference on the FDB entry mac -> dst; with queue_for (the subnet
 * that needs it, for error reports) queue the write when it is missing. */
int fdb_ref_get(struct applier *a, int dev, const uint8_t mac[6], const struct ipaddr *dst,
		const struct prefix *queue_for)
{
	struct fdb_key key = { .ifindex = dev };
	struct fdb_ref *f;
	bool created;

	memcpy(key.mac, mac, 6);
	f = htab_put(&a->fdb, &key, &created);
	if (!f)
		return -1;
	if (queue_for && (created || !addr_equal(&f->dst, dst)) &&
	    queue_fdb(a, NL_REPLACE, dev, mac, dst, queue_for) < 0)
		return -1;
	f->dst = *dst;
	f->refs++;
	return 0;
}

static int fdb_ref_put(struct applier *a, int dev, const uint8_t mac[6])
{
	struct fdb_key key = { .ifindex = dev };
	struct fdb_ref *f;
	struct ipaddr dst;

	memcpy(key.mac, mac, 6);
	f = htab_get(&a->fdb, &key);
	if (!f)
		return 0;
	if (f->refs > 1) {
		f->refs--;
		return 0;
	}
	dst = f->dst;
	htab_del(&a->fdb, &key);
	return queue_fdb(a, NL_DELETE, dev, mac, &dst, NULL);
}

static int queue_nexthop(struct applier *a, enum nl_op op, const struct peer *p,
			 const struct fwd *f, uint32_t id)
{
	struct nl_nexthop nh = {
		.id = id, .family = p->subnet.addr.family, .gw = f->gw, .oif = f->oif,
		.flags = f->onlink ? RTNH_F_ONLINK : 0, .protocol = RTPROT_FLANNEL,
	};
	struct cookie c = mk_cookie(OBJ_NH, op, p);

	c.id = id;
	return nl_nexthop_queue(a->nl, op, &nh, &c, sizeof(c));
}

static int queue_route(struct applier *a, enum nl_op op, const struct peer *p,
		       const struct fwd *f, uint32_t nhid)
{
	struct nl_route r = {
		.dst = p->subnet, .protocol = RTPROT_FLANNEL, .scope = RT_SCOPE_UNIVERSE,
		.type = RTN_UNICAST, .nhid = nhid,
	};
	struct cookie c = mk_cookie(OBJ_ROUTE, op, p);

	if (f && !nhid) {
		r.gw = f->gw;
		r.oif = f->oif;
		r.flags = f->onlink ? RTNH_F_ONLINK : 0;
	}
	return nl_route_queue(a->nl, op, &r, &c, sizeof(c));
}

static bool fwd_equal(const struct fwd *x, const struct fwd *y)
{
	return addr_equal(&x->gw, &y->gw) && x->oif == y->oif && x->onlink == y->onlink;
}

static struct fwd want_fwd(const struct applier *a, const struct peer *p)
{
	struct fwd f = { .gw = p->want.gw, .oif = p->want.oif, .onlink = p->want.onlink };

	/* The overlay device may have been recreated since the plan. */
	if (p->want.kind == PEER_ENCAP || p->want.kind == PEER_TUNNEL)
		f.oif = (uint32_t)dev_of(a, p->subnet.addr.family);
	return f;
}

static bool fdb_points_to(struct applier *a, int dev, const uint8_t mac[6],
			  const struct ipaddr *dst)
{
	struct fdb_key key = { .ifindex = dev };
	struct fdb_ref *f;

	memcpy(key.mac, mac, 6);
	f = htab_get(&a->fdb, &key);
	return f && addr_equal(&f->dst, dst);
}

/* Drop the neighbour and FDB entries the wanted shape no longer needs. */
static int drop_l2(struct applier *a, struct peer *p, int dev)
{
	const struct peer_want *w = &p->want;
	bool encap = w->kind == PEER_ENCAP;

	if ((p->have & HAVE_NEIGH) && (!encap || p->dev != dev)) {
		if (queue_neigh(a, NL_DELETE, p, p->dev, p->neigh_mac) < 0)
			return -1;
		p->have &= ~HAVE_NEIGH;
	}
	if ((p->have & HAVE_FDB) &&
	    (!encap || p->dev != dev || memcmp(p->fdb_mac, w->mac, 6) != 0 ||
	     !fdb_points_to(a, p->dev, p->fdb_mac, &w->vtep))) {
		if (fdb_ref_put(a, p->dev, p->fdb_mac) < 0)
			return -1;
		p->have &= ~HAVE_FDB;
	}
	return 0;
}

static int install_l2(struct applier *a, struct peer *p, int dev)
{
	const struct peer_want *w = &p->want;

	if (w->kind != PEER_ENCAP)
		return 0;
	p->dev = dev;
	if (!(p->have & HAVE_NEIGH) || memcmp(p->neigh_mac, w->mac, 6) != 0) {
		if (queue_neigh(a, NL_REPLACE, p, dev, w->mac) < 0)
			return -1;
		memcpy(p->neigh_mac, w->mac, 6);
		p->have |= HAVE_NEIGH;
	}
	if (!(p->have & HAVE_FDB)) {
		if (fdb_ref_get(a, dev, w->mac, &w->vtep, &p->subnet) < 0)
			return -1;
		memcpy(p->fdb_mac, w->mac, 6);
		p->have |= HAVE_FDB;
	}
	return 0;
}

static int install_route(struct applier *a, struct peer *p)
{
	struct fwd f = want_fwd(a, p);

	if (!a->nexthops) {
		if ((p->have & HAVE_ROUTE) && p->route_nhid == 0 && fwd_equal(&p->fwd, &f))
			return 0;
		if (queue_route(a, NL_REPLACE, p, &f, 0) < 0)
			return -1;
		p->fwd = f;
		p->route_nhid = 0;
		p->have |= HAVE_ROUTE;
		return 0;
	}
	if (!(p->have & HAVE_NH)) {
		if (nh_alloc(a, &p->nhid) < 0)
			return -1;
		if (queue_nexthop(a, NL_CREATE, p, &f, p->nhid) < 0)
			return -1;
	} else if (!fwd_equal(&p->fwd, &f)) {
		if (queue_nexthop(a, NL_REPLACE, p, &f, p->nhid) < 0)
			return -1;
	}
	p->fwd = f;
	p->have |= HAVE_NH;
	if ((p->have & HAVE_ROUTE) && p->route_nhid == p->nhid)
		return 0;
	if (queue_route(a, NL_REPLACE, p, NULL, p->nhid) < 0)
		return -1;
	p->route_nhid = p->nhid;
	p->have |= HAVE_ROUTE;
	return 0;
}

/* Returns the number of messages queued, or -1. */
int peer_install(struct applier *a, struct peer *p)
{
	unsigned long before = nl_batch_total(a->nl);
	int dev = dev_of(a, p->subnet.addr.family);

	if (drop_l2(a, p, dev) < 0)
		return -1;
	/* The device is gone for now: install when it is back (apply_heal.c). */
	if ((p->want.kind == PEER_ENCAP || p->want.kind == PEER_TUNNEL) && !dev)
		return (int)(nl_batch_total(a->nl) - before);
	if (install_l2(a, p, dev) < 0 || install_route(a, p) < 0)
		return -1;
	return (int)(nl_batch_total(a->nl) - before);
}

/* Route first, so that nothing is sent towards a VTEP being forgotten. */
void peer_uninstall(struct applier *a, struct peer *p)
{
	if (p->have & HAVE_ROUTE)
		queue_route(a, NL_DELETE, p, NULL, 0);
	if (p->have & HAVE_NH) {
		queue_nexthop(a, NL_DELETE, p, &p->fwd, p->nhid);
	}
	if (p->have & HAVE_NEIGH)
		queue_neigh(a, NL_DELETE, p, p->dev, p->neigh_mac);
	if (p->have & HAVE_FDB)
		fdb_ref_put(a, p->dev, p->fdb_mac);
	p->have = 0;
}

void peer_forget(struct applier *a, struct peer *p)
{
	struct prefix key = p->subnet;

	htab_del(&a->peers, &key);
}

static const char *const obj_names[] = {
	[OBJ_NEIGH] = "neighbour", [OBJ_FDB] = "FDB entry", [OBJ_NH] = "nexthop",
	[OBJ_ROUTE] = "route",
};

/* Runs inside the batch flush: only record; apply_handle_failures acts. */
void apply_on_error(void *arg, void *cookie, int err, const char *ext)
{
	struct applier *a = arg;
	struct cookie *c = cookie;
	char sub[ADDR_STRLEN], mac[20];
	const char *what;

	if (!c || c->obj < OBJ_NEIGH || c->obj > OBJ_ROUTE) {
		log_err("kernel refused a message: %s", strerror(err));
		a->st.errors++;
		return;
	}
	if (c->op == NL_DELETE && (err == ENOENT || err == ESRCH || err == ENODEV))
		return; /* already gone: deleting is idempotent */
	a->st.errors++;
	what = c->op == NL_DELETE ? "delete" : "replace";
	if (c->obj == OBJ_FDB)
		log_err("%s %s %s: %s%s%s%s", what, obj_names[c->obj],
			mac_format(c->mac, mac, sizeof(mac)), strerror(err),
			ext[0] ? " (kernel: " : "", ext, ext[0] ? ")" : "");
	else
		log_err("%s %s for %s: %s%s%s%s", what, obj_names[c->obj],
			prefix_format(&c->subnet, sub, sizeof(sub)), strerror(err),
			ext[0] ? " (kernel: " : "", ext, ext[0] ? ")" : "");
	if (c->op == NL_DELETE || !c->subnet.addr.family)
		return;
	if (a->nfailed == a->failed_cap) {
		size_t ncap = a->failed_cap ? a->failed_cap * 2 : 16;
		struct failed *n = fl_realloc(a->failed, ncap * sizeof(*n));

		if (!n)
			return;
		a->failed = n;
		a->failed_cap = ncap;
	}
	a->failed[a->nfailed].subnet = c->subnet;
	a->failed[a->nfailed].obj = c->obj;
	a->failed[a->nfailed].err = err;
	a->nfailed++;
}

/*
 * A write for a subnet failed: take back what else was installed for it, so
 * that no half-working path stays, and forget it (the next event retries).
 * A nexthop that failed to be created may belong to someone else: leave it.
 */
int apply_handle_failures(struct applier *a)
{
	size_t n = a->nfailed;

	for (size_t i = 0; i < n; i++) {
		struct peer *p = peer_find(a, &a->failed[i].subnet);
		char sub[ADDR_STRLEN], why[160];

		if (!p)
			continue;
		if (a->failed[i].obj == OBJ_NH)
			p->have &= ~HAVE_NH;
		if (a->failed[i].obj == OBJ_NEIGH)
			p->have &= ~HAVE_NEIGH;
		peer_uninstall(a, p);
		if (a->failed[i].err == ENETDOWN || a->failed[i].err == ENODEV) {
			/* Keep it wanted: a reconcile installs it when the link is back. */
			a->retry_on_up = true;
			log_warn("subnet %s: not installed while the device is down or gone",
				 prefix_format(&p->subnet, sub, sizeof(sub)));
			state_refused(a->o.state, &p->subnet, "the device is down or gone");
			continue;
		}
		log_warn("skip subnet %s: not installed, see the error above",
			 prefix_format(&p->subnet, sub, sizeof(sub)));
		snprintf(why, sizeof(why), "the kernel refused its %s: %s",
			 obj_names[a->failed[i].obj], strerror(a->failed[i].err));
		state_refused(a->o.state, &p->subnet, why);
		peer_forget(a, p);
	}
	a->nfailed = 0;
	return n ? nl_batch_flush(a->nl) : 0;
}
