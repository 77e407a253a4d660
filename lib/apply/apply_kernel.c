/* apply_kernel.c - what the kernel has: dumps filtered by our protocol,
 * adoption of existing objects (a restart rewrites nothing), purge of what
 * no lease justifies, and self-healing from a monitor socket. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply_priv.h"
#include "base/log.h"
#include "base/mem.h"

/* A route of protocol 76 is ours only inside our network: another
 * network's applier (flanneld --networks) installed the others.  Nexthops:
 * by id range (apply_nhid.c). */
static bool route_ours(const struct kstate *k, const struct nl_route *r)
{
	const struct prefix *net =
		r->dst.addr.family == AF_INET6 ? &k->a->o.network6 : &k->a->o.network;

	return !net->addr.family || prefix_contains(net, &r->dst);
}

static int kroute_add(const struct nl_route *r, void *arg)
{
	struct kstate *k = arg;
	struct prefix key;
	struct nl_route *e;

	if (!route_ours(k, r))
		return 0;
	peer_key(&key, &r->dst);
	e = htab_put(&k->routes, &key, NULL);
	if (!e)
		return -1;
	*e = *r;
	e->dst = key;
	return 0;
}

struct nh_dump {
	struct kstate *k;
};

static int knh_add(const struct nl_nexthop *nh, void *arg)
{
	struct kstate *k = arg;
	struct nl_nexthop *e;

	if (nh->id < k->a->nh_lo || nh->id > k->a->nh_hi) {
		/* Another network's, or numbered by an earlier version (or by
		 * hand): ours only through a route of ours that uses it. */
		if (nh->protocol == RTPROT_FLANNEL) {
			e = htab_put(&k->foreign, &nh->id, NULL);
			if (!e)
				return -1;
			*e = *nh;
		}
		return 0;
	}
	if (nh->id > k->max_nhid)
		k->max_nhid = nh->id;
	if (nh->protocol != RTPROT_FLANNEL)
		return 0;
	e = htab_put(&k->nexthops, &nh->id, NULL);
	if (!e)
		return -1;
	*e = *nh;
	return 0;
}

static int kneigh_add(const struct nl_neigh *n, void *arg)
{
	struct kstate *k = arg;
	struct neigh_key key;
	struct kneigh *e;

	if (!(n->state & NUD_PERMANENT) || !n->ip.family)
		return 0;
	memset(&key, 0, sizeof(key));
	key.ifindex = n->ifindex;
	key.ip.family = n->ip.family;
	memcpy(key.ip.b, n->ip.b, n->ip.family == AF_INET6 ? 16 : 4);
	e = htab_put(&k->neighs, &key, NULL);
	if (!e)
		return -1;
	memcpy(e->mac, n->mac, 6);
	return 0;
}

static int kfdb_add(const struct nl_neigh *n, void *arg)
{
	struct kstate *k = arg;
	struct fdb_key key = { .ifindex = n->ifindex };
	struct kfdb *e;

	/* Only unicast entries with a remote: not the device's own multicast list. */
	if (!n->ip.family || (n->mac[0] & 1) || !(n->flags & NTF_SELF))
		return 0;
	memcpy(key.mac, n->mac, 6);
	e = htab_put(&k->fdbs, &key, NULL);
	if (!e)
		return -1;
	e->dst = n->ip;
	return 0;
}

void kstate_free(struct kstate *k)
{
	if (!k)
		return;
	htab_free(&k->routes);
	htab_free(&k->nexthops);
	htab_free(&k->foreign);
	htab_free(&k->neighs);
	htab_free(&k->fdbs);
	free(k);
}

static int dump_devices(struct applier *a, struct kstate *k)
{
	for (int i = 0; i < 2; i++) {
		int fam = i ? AF_INET6 : AF_INET, rc;

		if (!a->o.dev[i])
			continue;
		rc = nl_neigh_dump(a->nl, fam, a->o.dev[i], kneigh_add, k);
		if (rc == 0)
			rc = nl_neigh_dump(a->nl, AF_BRIDGE, a->o.dev[i], kfdb_add, k);
		if (rc < 0) {
			log_err("dump neighbours of %s: %s", a->o.devname[i],
				nl_strerror(a->nl, rc));
			return -1;
		}
	}
	return 0;
}

struct kstate *kstate_dump(struct applier *a)
{
	struct kstate *k = fl_calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return NULL;
	htab_init(&k->routes, sizeof(struct nl_route), sizeof(struct prefix));
	htab_init(&k->nexthops, sizeof(struct nl_nexthop), sizeof(uint32_t));
	htab_init(&k->foreign, sizeof(struct nl_nexthop), sizeof(uint32_t));
	htab_init(&k->neighs, sizeof(struct kneigh), sizeof(struct neigh_key));
	htab_init(&k->fdbs, sizeof(struct kfdb), sizeof(struct fdb_key));
	k->a = a;
	rc = nl_route_dump(a->nl, AF_UNSPEC, RTPROT_FLANNEL, kroute_add, k);
	if (rc < 0) {
		log_err("dump routes: %s", nl_strerror(a->nl, rc));
		goto fail;
	}
	if (a->nexthops || !a->o.classic_routes) {
		rc = nl_nexthop_dump(a->nl, knh_add, k);
		/* Kernels before 5.3 do not know RTM_GETNEXTHOP. */
		if (rc == -EOPNOTSUPP || rc == -EINVAL || rc == -EPROTONOSUPPORT ||
		    rc == -EAFNOSUPPORT)
			k->no_nexthops = true;
		else if (rc < 0) {
			log_err("dump nexthops: %s", nl_strerror(a->nl, rc));
			goto fail;
		}
	}
	if (dump_devices(a, k) < 0)
		goto fail;
	return k;
fail:
	kstate_free(k);
	return NULL;
}

static void adopt_route(struct applier *a, struct peer *p, struct kstate *k)
{
	struct nl_route *r = htab_get(&k->routes, &p->subnet);
	struct nl_nexthop *nh;

	if (!r)
		return;
	p->have |= HAVE_ROUTE;
	p->route_nhid = r->nhid;
	if (!r->nhid) {
		p->fwd.gw = r->gw;
		p->fwd.oif = r->oif;
		p->fwd.onlink = !!(r->flags & RTNH_F_ONLINK);
	} else if (a->nexthops && ((nh = htab_get(&k->nexthops, &r->nhid)) != NULL ||
				   (nh = htab_get(&k->foreign, &r->nhid)) != NULL)) {
		p->have |= HAVE_NH;
		p->nhid = nh->id;
		p->fwd.gw = nh->gw;
		p->fwd.oif = nh->oif;
		p->fwd.onlink = !!(nh->flags & RTNH_F_ONLINK);
		htab_del(&k->nexthops, &r->nhid);
		htab_del(&k->foreign, &r->nhid);
	}
	htab_del(&k->routes, &p->subnet);
}

static void adopt_l2(struct applier *a, struct peer *p, struct kstate *k)
{
	int dev = dev_of(a, p->subnet.addr.family);
	struct neigh_key nk;
	struct fdb_key fk = { .ifindex = dev };
	struct kneigh *n;
	struct kfdb *f;
	struct fdb_ref *ref;

	if (!dev)
		return;
	memset(&nk, 0, sizeof(nk));
	nk.ifindex = dev;
	nk.ip = p->subnet.addr;
	n = htab_get(&k->neighs, &nk);
	if (!n)
		return;
	p->dev = dev;
	p->have |= HAVE_NEIGH;
	memcpy(p->neigh_mac, n->mac, 6);
	htab_del(&k->neighs, &nk);
	memcpy(fk.mac, p->neigh_mac, 6);
	/* The entry may already be referenced by another subnet of this VTEP. */
	ref = htab_get(&a->fdb, &fk);
	f = htab_get(&k->fdbs, &fk);
	if (!ref && !f)
		return;
	if (fdb_ref_get(a, dev, p->neigh_mac, ref ? &ref->dst : &f->dst, NULL) < 0)
		return;
	memcpy(p->fdb_mac, p->neigh_mac, 6);
	p->have |= HAVE_FDB;
	if (f)
		htab_del(&k->fdbs, &fk);
}

/* Take over what the kernel already has for p, so that nothing is rewritten. */
void peer_adopt(struct applier *a, struct peer *p, struct kstate *k)
{
	if (!k)
		return;
	adopt_route(a, p, k);
	adopt_l2(a, p, k);
}

/* Delete what adoption left: objects of ours that no lease justifies. */
int kstate_purge(struct applier *a, struct kstate *k)
{
	size_t it = 0;
	struct nl_route *r;
	struct nl_nexthop *nh;
	struct kneigh *n;
	struct kfdb *f;
	unsigned long before = a->st.purged;

	while ((r = htab_next(&k->routes, &it)) != NULL) {
		r->scope = RT_SCOPE_NOWHERE;
		if (nl_route_queue(a->nl, NL_DELETE, r, NULL, 0) < 0)
			return -1;
		a->st.purged++;
		/* A nexthop outside our range that only our stale route used. */
		if (r->nhid && (nh = htab_get(&k->foreign, &r->nhid)) != NULL) {
			if (nl_nexthop_queue(a->nl, NL_DELETE, nh, NULL, 0) < 0)
				return -1;
			a->st.purged++;
			htab_del(&k->foreign, &r->nhid);
		}
	}
	/* Nexthops a subnet uses were taken out by adoption; new ones have
	 * higher ids than any dumped in our range (or, after it wrapped, ids
	 * no peer held). */
	for (it = 0; (nh = htab_next(&k->nexthops, &it)) != NULL; a->st.purged++)
		if (nl_nexthop_queue(a->nl, NL_DELETE, nh, NULL, 0) < 0)
			return -1;
	for (it = 0; (n = htab_next(&k->neighs, &it)) != NULL; a->st.purged++) {
		struct nl_neigh d = { .family = n->key.ip.family, .ifindex = n->key.ifindex,
				      .ip = n->key.ip };

		if (nl_neigh_queue(a->nl, NL_DELETE, &d, NULL, 0) < 0)
			return -1;
	}
	for (it = 0; (f = htab_next(&k->fdbs, &it)) != NULL;) {
		struct nl_neigh d = { .family = AF_BRIDGE, .ifindex = f->key.ifindex,
				      .ip = f->dst, .state = NUD_PERMANENT, .flags = NTF_SELF };

		if (htab_get(&a->fdb, &f->key))
			continue;
		memcpy(d.mac, f->key.mac, 6);
		if (nl_neigh_queue(a->nl, NL_DELETE, &d, NULL, 0) < 0)
			return -1;
		a->st.purged++;
	}
	if (a->st.purged > before)
		log_info("purged %lu objects no lease justifies", a->st.purged - before);
	return nl_batch_flush(a->nl);
}

/* Rebuild our view from a fresh dump and fix every difference. */
int apply_reconcile(struct applier *a)
{
	struct kstate *k;
	struct peer *p;
	size_t it = 0;
	int rc = 0;

	a->want_reconcile = false;
	a->st.reconciles++;
	if (a->resetup && a->be->self && (a->o.own.addr.family || a->o.own6.addr.family)) {
		struct lease own;

		/* A recreated device needs our address again. */
		lease_init(&own);
		own.subnet = a->o.own;
		own.subnet6 = a->o.own6;
		a->be->self(a, &own);
	}
	a->resetup = false;
	k = kstate_dump(a);
	if (!k)
		return -1;
	htab_clear(&a->fdb);
	if (k->max_nhid >= a->next_nhid)
		a->next_nhid = k->max_nhid + 1;
	while ((p = htab_next(&a->peers, &it)) != NULL) {
		p->have = 0;
		peer_adopt(a, p, k);
	}
	for (it = 0; (p = htab_next(&a->peers, &it)) != NULL;) {
		if (peer_install(a, p) < 0)
			rc = -1;
		state_installed(a->o.state, &p->subnet); /* unless the kernel refuses again */
	}
	if (a->synced && !a->in_snapshot && kstate_purge(a, k) < 0)
		rc = -1;
	kstate_free(k);
	if (nl_batch_flush(a->nl) < 0)
		rc = -1;
	return rc;
}
