/* apply_heal.c - self-healing: a monitor socket sees a route, nexthop,
 * neighbour or FDB entry of ours deleted and puts it back at once; a lost
 * notification (ENOBUFS) or a link coming back triggers a full reconcile.
 * The blackhole route of our own subnet lives here: healing re-adds it. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

#include "apply/apply_priv.h"
#include "base/log.h"

/* Upstream adds it only where no route for the subnet exists (a container
 * bridge's connected route wins): create, never replace. */
void apply_blackhole(struct applier *a)
{
	for (int i = 0; a->o.blackhole && i < 2; i++) {
		const struct prefix *own = i ? &a->o.own6 : &a->o.own;
		struct nl_route r = { .protocol = RTPROT_FLANNEL, .type = RTN_BLACKHOLE };
		char b[ADDR_STRLEN];
		int rc;

		if (!own->addr.family)
			continue;
		r.dst = *own;
		rc = nl_route_change(a->nl, NL_CREATE, &r);
		if (rc < 0 && rc != -EEXIST)
			log_warn("add blackhole route %s: %s", prefix_format(own, b, sizeof(b)),
				 nl_strerror(a->nl, rc));
	}
}

int apply_monitor_open(struct applier *a)
{
	const unsigned groups[] = { RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_ROUTE,
				    RTNLGRP_IPV6_ROUTE, RTNLGRP_NEXTHOP };

	a->mon = nl_open_monitor(groups, (int)(sizeof(groups) / sizeof(groups[0])));
	if (!a->mon)
		return -1;
	if (nl_monitor_filter_deletions(a->mon, RTPROT_FLANNEL) < 0)
		log_warn("attach a filter to the monitor socket: %s", strerror(errno));
	return 0;
}

static int heal_peer(struct applier *a, struct peer *p, uint8_t lost, const char *what)
{
	char sub[ADDR_STRLEN];

	p->have &= (uint8_t)~lost;
	a->st.healed++;
	log_notice("%s for %s was deleted: restoring it", what,
		   prefix_format(&p->subnet, sub, sizeof(sub)));
	return peer_install(a, p) < 0 ? -1 : 0;
}

static void heal_route(struct applier *a, const struct nlmsghdr *nlh)
{
	struct nl_route r;
	struct peer *p;

	if (nl_route_parse(nlh, &r) < 0 || r.protocol != RTPROT_FLANNEL ||
	    r.table != RT_TABLE_MAIN)
		return;
	if (r.type == RTN_BLACKHOLE) {
		log_notice("our blackhole route was deleted: restoring it");
		apply_blackhole(a);
		return;
	}
	p = peer_find(a, &r.dst);
	if (!p || !(p->have & HAVE_ROUTE) || r.nhid != p->route_nhid)
		return;
	heal_peer(a, p, HAVE_ROUTE, "route");
}

static void heal_nexthop(struct applier *a, const struct nlmsghdr *nlh)
{
	struct nl_nexthop nh;
	struct peer *p;
	size_t it = 0;

	if (nl_nexthop_parse(nlh, &nh) < 0 || nh.protocol != RTPROT_FLANNEL)
		return;
	/* Rare enough for a scan; no index to keep. */
	while ((p = htab_next(&a->peers, &it)) != NULL)
		if ((p->have & HAVE_NH) && p->nhid == nh.id)
			break;
	if (!p)
		return;
	/* The kernel removed the routes that used it, without telling. */
	heal_peer(a, p, HAVE_NH | HAVE_ROUTE, "nexthop");
}

/* The neighbour's address is a peer's subnet address: try the lengths. */
static struct peer *peer_by_addr(struct applier *a, const struct ipaddr *ip)
{
	struct prefix pfx = { .addr = *ip };
	int bits = addr_bits(ip->family);

	for (int len = bits; len > 0; len--) {
		struct peer *p;

		pfx.len = (unsigned)len;
		p = peer_find(a, &pfx);
		if (p)
			return p;
	}
	return NULL;
}

static void heal_fdb(struct applier *a, const struct nl_neigh *n)
{
	/* A device going away takes its entries first: nothing to restore. */
	struct fdb_key key = { .ifindex = n->ifindex };
	struct fdb_ref *f;
	struct nl_neigh w = { .family = AF_BRIDGE, .ifindex = n->ifindex,
			      .state = NUD_PERMANENT, .flags = NTF_SELF };
	char mac[20];

	memcpy(key.mac, n->mac, 6);
	f = htab_get(&a->fdb, &key);
	if (!f || !addr_equal(&f->dst, &n->ip))
		return;
	w.ip = f->dst;
	memcpy(w.mac, n->mac, 6);
	a->st.healed++;
	log_notice("FDB entry %s was deleted: restoring it", mac_format(n->mac, mac, sizeof(mac)));
	nl_neigh_queue(a->nl, NL_REPLACE, &w, NULL, 0);
}

static void heal_neigh(struct applier *a, const struct nlmsghdr *nlh)
{
	struct nl_neigh n;
	struct peer *p;

	if (nl_neigh_parse(nlh, &n) < 0)
		return;
	if (n.ifindex != a->o.dev[0] && n.ifindex != a->o.dev[1])
		return;
	if (n.family == AF_BRIDGE) {
		heal_fdb(a, &n);
		return;
	}
	if (!n.ip.family)
		return;
	p = peer_by_addr(a, &n.ip);
	/* A deleted entry is reported as failed first, without its MAC. */
	if (!p || !(p->have & HAVE_NEIGH) || p->dev != n.ifindex)
		return;
	heal_peer(a, p, HAVE_NEIGH, "neighbour");
}

struct link_seen {
	int ifindex;
	unsigned flags;
};

/* A link of ours changed: deleted, recreated, or back up after a down. */
static void watch_link(struct applier *a, const struct nlmsghdr *nlh)
{
	struct nl_link l;
	struct link_seen *s;
	bool created;

	if (nl_link_parse(nlh, &l) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (!a->o.devname[i][0] || strcmp(l.name, a->o.devname[i]) != 0)
			continue;
		if (nlh->nlmsg_type == RTM_DELLINK) {
			log_warn("device %s was deleted: waiting for it to return", l.name);
			a->o.dev[i] = 0;
			return;
		}
		if (a->o.dev[i] != l.ifindex) {
			log_notice("device %s is back (index %d): reinstalling", l.name,
				   l.ifindex);
			a->o.dev[i] = l.ifindex;
			a->o.dev_seen[i] = true;
			a->want_reconcile = true;
			a->resetup = true;
		}
	}
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return;
	s = htab_put(&a->links, &l.ifindex, &created);
	if (!s)
		return;
	/* Routes and nexthops over a link vanish when it goes down. */
	if ((l.flags & IFF_UP) && ((!created && !(s->flags & IFF_UP)) || a->retry_on_up)) {
		a->retry_on_up = false;
		a->want_reconcile = true;
	}
	s->flags = l.flags;
}

static int monitor_cb(const struct nlmsghdr *nlh, void *data)
{
	struct applier *a = data;

	switch (nlh->nlmsg_type) {
	case RTM_DELROUTE:
		heal_route(a, nlh);
		break;
	case RTM_DELNEXTHOP:
		heal_nexthop(a, nlh);
		break;
	case RTM_DELNEIGH:
		heal_neigh(a, nlh);
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		watch_link(a, nlh);
		break;
	}
	return MNL_CB_OK;
}

int apply_monitor_read(struct applier *a)
{
	int rc = nl_monitor_read(a->mon, monitor_cb, a);

	if (rc == -ENOBUFS) {
		log_warn("kernel notifications were lost: dumping and reconciling");
		a->want_reconcile = true;
	} else if (rc < 0) {
		log_err("read the monitor socket: %s", strerror(-rc));
		return -1;
	}
	if (a->want_reconcile)
		return apply_reconcile(a);
	if (nl_batch_flush(a->nl) < 0)
		return -1;
	return apply_handle_failures(a);
}
