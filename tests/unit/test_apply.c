/* The apply engine against a real kernel, under ASan+UBSan: a private network
 * namespace (unshare) with a VXLAN device, events fed line by line, kernel
 * objects counted by dumps; then every allocation failed in turn. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "apply/apply_priv.h"
#include "backend/backend.h"
#include "backend/vxlan.h"
#include "base/log.h"
#include "base/mem.h"
#include "netlink/nl.h"
#include "tap.h"

static struct nl *nl;
static int dev;

struct counts {
	int routes, nexthops, neighs, fdbs;
};

static int count_route(const struct nl_route *r, void *arg)
{
	(void)r;
	((struct counts *)arg)->routes++;
	return 0;
}

static int count_nh(const struct nl_nexthop *nh, void *arg)
{
	if (nh->protocol == RTPROT_FLANNEL)
		((struct counts *)arg)->nexthops++;
	return 0;
}

static int count_neigh(const struct nl_neigh *n, void *arg)
{
	struct counts *c = arg;

	if (!n->ip.family)
		return 0;
	if (n->family == AF_BRIDGE)
		c->fdbs++;
	else
		c->neighs++;
	return 0;
}

static struct counts count(void)
{
	struct counts c = { 0 };

	nl_route_dump(nl, AF_INET, RTPROT_FLANNEL, count_route, &c);
	nl_nexthop_dump(nl, count_nh, &c);
	nl_neigh_dump(nl, AF_INET, dev, count_neigh, &c);
	nl_neigh_dump(nl, AF_BRIDGE, dev, count_neigh, &c);
	return c;
}

static void lease_line(char *buf, size_t len, const char *type, int k, const char *mac_extra)
{
	snprintf(buf, len,
		 "{\"type\":\"%s\",\"subnet\":\"100.%d.%d.0/24\",\"public_ip\":\"198.18.%d.%d\","
		 "\"backend_type\":\"vxlan\",\"backend_data\":{\"VNI\":1,"
		 "\"VtepMAC\":\"0a:58:64:00:%02x:%02x\"}%s}",
		 type, 64 + (k >> 8), k & 255, k >> 8, k & 255, k >> 8, k & 255, mac_extra);
}

static int feed(struct applier *a, const char *line)
{
	struct event ev;
	char err[256];
	int rc;

	event_init(&ev);
	if (event_parse(line, &ev, err, sizeof(err)) < 0)
		return -2;
	rc = applier_event(a, &ev);
	event_clear(&ev);
	return rc;
}

static int feed_range(struct applier *a, const char *type, int from, int to)
{
	char line[512];

	for (int k = from; k < to; k++) {
		lease_line(line, sizeof(line), type, k, "");
		if (feed(a, line) < 0)
			return -1;
	}
	return applier_flush(a);
}

static struct applier *applier_on(int ifindex, const char *name, const char *network,
				   const char *own)
{
	struct apply_backend be = *backend_vxlan.plan;
	static struct vxlan_apply cfg = { .setup = false };
	struct apply_opts o = { .no_monitor = true, .sigfd = -1, .dev = { ifindex, 0 } };

	be.data = &cfg;
	snprintf(o.devname[0], sizeof(o.devname[0]), "%s", name);
	o.dev_seen[0] = true;
	if (network)
		prefix_parse(network, &o.network);
	prefix_parse(own, &o.own);
	return applier_new(&be, &o);
}

static struct applier *new_applier(void)
{
	return applier_on(dev, "flannel.1", "100.64.0.0/10", "100.64.1.0/24");
}

static int setup(void)
{
	struct nl_vxlan vx = { .vni = 1 };
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	struct nl_link l;

	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	nl = nl_open();
	if (!nl || nl_link_get(nl, "lo", 0, &l) < 0 || nl_link_set_up(nl, l.ifindex) < 0)
		return -1;
	if (nl_vxlan_create(nl, "flannel.1", &vx, 1450, mac) < 0 ||
	    nl_link_get(nl, "flannel.1", 0, &l) < 0 || nl_link_set_up(nl, l.ifindex) < 0)
		return -1;
	dev = l.ifindex;
	return 0;
}

static void test_apply(void)
{
	struct applier *a = new_applier();
	unsigned long before;
	struct counts c;
	char line[512];

	need(a);

	ok(a != NULL, "applier on a fresh namespace");
	ok(feed_range(a, "added", 2, 702) == 0, "700 leases applied (several batches)");
	c = count();
	ok(c.routes == 700 && c.nexthops == 700 && c.neighs == 700 && c.fdbs == 700,
	   "700 routes, nexthops, neighbours, FDB entries (%d %d %d %d)", c.routes,
	   c.nexthops, c.neighs, c.fdbs);
	before = nl_batch_total(applier_nl(a));
	ok(feed_range(a, "added", 2, 702) == 0, "the same 700 again");
	is_int(nl_batch_total(applier_nl(a)) - before, 0, "not one message for repeated events");
	ok(feed_range(a, "removed", 2, 202) == 0, "200 removed");
	c = count();
	ok(c.routes == 500 && c.nexthops == 500 && c.neighs == 500 && c.fdbs == 500,
	   "their objects are gone, the others stay (%d %d %d %d)", c.routes, c.nexthops,
	   c.neighs, c.fdbs);

	/* Hostile: own subnet, outside the network, multicast MAC. */
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.1.0/24\",\"public_ip\":\"198.18.9.9\","
		"\"backend_type\":\"vxlan\",\"backend_data\":{\"VtepMAC\":\"02:00:00:00:09:09\"}}");
	feed(a, "{\"type\":\"added\",\"subnet\":\"198.51.100.0/24\",\"public_ip\":\"198.18.9.9\","
		"\"backend_type\":\"vxlan\",\"backend_data\":{\"VtepMAC\":\"02:00:00:00:09:09\"}}");
	lease_line(line, sizeof(line), "added", 900, "");
	memcpy(strstr(line, "0a:58"), "01", 2);
	feed(a, line);
	applier_flush(a);
	is_int(applier_stats(a)->skipped, 3, "three hostile leases skipped");
	is_int(count().routes, 500, "and nothing installed for them");

	/* A snapshot that keeps 50 of them: the rest is purged at sync. */
	feed(a, "{\"type\":\"snapshot\",\"revision\":9}");
	feed_range(a, "added", 202, 252);
	feed(a, "{\"type\":\"sync\",\"revision\":9}");
	applier_flush(a);
	c = count();
	ok(c.routes == 50 && c.nexthops == 50 && c.neighs == 50 && c.fdbs == 50,
	   "after the sync only the snapshot's 50 remain (%d %d %d %d)", c.routes, c.nexthops,
	   c.neighs, c.fdbs);
	applier_free(a);

	/* A restart takes the 50 over: nothing is written again. */
	a = new_applier();
	need(a);
	before = nl_batch_total(applier_nl(a));
	feed(a, "{\"type\":\"snapshot\",\"revision\":10}");
	feed_range(a, "added", 202, 252);
	is_int(nl_batch_total(applier_nl(a)) - before, 0, "a new applier adopts, rewrites nothing");
	applier_free(a);
}

/* The kernel refuses a write: nothing of that subnet stays half installed. */
static void test_refused(void)
{
	struct applier *a = new_applier();
	struct nl_link l;
	struct counts c0, c;
	char line[512];

	need(a);
	c0 = count();
	nl_link_get(nl, "flannel.1", 0, &l);
	/* A nexthop on a down device is refused (ENETDOWN). */
	{
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *nlh = nl_msg_init(buf, RTM_NEWLINK, NLM_F_REQUEST);
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

		ifi->ifi_index = l.ifindex;
		ifi->ifi_change = IFF_UP;
		nl_request(nl, nlh, NULL, NULL);
	}
	lease_line(line, sizeof(line), "added", 1000, "");
	feed(a, line);
	applier_flush(a);
	c = count();
	ok(applier_stats(a)->errors > 0, "the kernel's refusal is reported");
	/* Down flushed routes and neighbours; FDB entries survive a down. */
	ok(c.neighs == 0 && c.routes == 0 && c.fdbs == c0.fdbs,
	   "no neighbour or FDB entry of it left behind (%d %d %d)", c.neighs, c.fdbs,
	   c.routes);
	nl_link_set_up(nl, l.ifindex);
	applier_free(a);
}

struct nh_ranges {
	int in_a, in_b, other;
	uint32_t a_lo, a_hi, b_lo, b_hi;
};

static int nh_range_count(const struct nl_nexthop *nh, void *arg)
{
	struct nh_ranges *r = arg;

	if (nh->protocol != RTPROT_FLANNEL)
		return 0;
	if (nh->id >= r->a_lo && nh->id <= r->a_hi)
		r->in_a++;
	else if (nh->id >= r->b_lo && nh->id <= r->b_hi)
		r->in_b++;
	else
		r->other++;
	return 0;
}

static void feed_green(struct applier *b, int from, int to)
{
	char line[512];

	for (int k = from; k < to; k++) {
		snprintf(line, sizeof(line),
			 "{\"type\":\"added\",\"subnet\":\"198.19.%d.0/24\",\"public_ip\":"
			 "\"198.18.200.%d\",\"backend_type\":\"vxlan\",\"backend_data\":{\"VNI\":2,"
			 "\"VtepMAC\":\"0a:58:c6:13:00:%02x\"}}", k, k, k);
		feed(b, line);
	}
}

struct net_count {
	struct prefix net;
	int n;
};

static int count_in(const struct nl_route *rt, void *arg)
{
	struct net_count *c = arg;

	c->n += prefix_contains(&c->net, &rt->dst);
	return 0;
}

/* Our routes inside NET. */
static int routes_in(const char *net)
{
	struct net_count c = { .n = 0 };

	prefix_parse(net, &c.net);
	nl_route_dump(nl, AF_INET, RTPROT_FLANNEL, count_in, &c);
	return c.n;
}

/* flanneld --networks: two appliers, two devices, one kernel.  Neither
 * adopts nor purges the other's routes and nexthops, and their ids never
 * meet, also after a range is used up once. */
static void test_two_networks(void)
{
	struct nl_vxlan vx = { .vni = 2 };
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 2 };
	struct nh_ranges r = { 0 };
	struct applier *a, *b;
	struct nl_link l;
	unsigned long before;

	if (nl_vxlan_create(nl, "flannel.2", &vx, 1450, mac) < 0 ||
	    nl_link_get(nl, "flannel.2", 0, &l) < 0 || nl_link_set_up(nl, l.ifindex) < 0) {
		ok(0, "create flannel.2");
		return;
	}
	a = new_applier();
	b = applier_on(l.ifindex, "flannel.2", "198.19.0.0/16", "198.19.1.0/24");
	need(a && b);
	r.a_lo = a->nh_lo;
	r.a_hi = a->nh_hi;
	r.b_lo = b->nh_lo;
	r.b_hi = b->nh_hi;
	ok(r.a_hi < r.b_lo || r.b_hi < r.a_lo, "the networks' nexthop id ranges are apart "
	   "(%u..%u, %u..%u)", r.a_lo, r.a_hi, r.b_lo, r.b_hi);

	/* Each one's sync comes after the other installed: the purge at sync is
	 * where one would take the other's. */
	feed_green(b, 2, 22);
	applier_flush(b);
	feed(a, "{\"type\":\"snapshot\",\"revision\":20}");
	feed_range(a, "added", 300, 320);
	feed(a, "{\"type\":\"sync\",\"revision\":20}");
	applier_flush(a);
	feed(b, "{\"type\":\"snapshot\",\"revision\":20}");
	feed_green(b, 2, 22);
	feed(b, "{\"type\":\"sync\",\"revision\":20}");
	applier_flush(b);
	ok(routes_in("100.64.0.0/10") == 20 && routes_in("198.19.0.0/16") == 20,
	   "both networks' 20 routes each, after both synced (%d %d)",
	   routes_in("100.64.0.0/10"), routes_in("198.19.0.0/16"));
	nl_nexthop_dump(nl, nh_range_count, &r);
	ok(r.in_a == 20 && r.in_b == 20 && r.other == 0,
	   "nexthops in their own network's range (%d, %d, %d elsewhere)", r.in_a, r.in_b,
	   r.other);
	is_int((long)applier_stats(b)->purged, 0, "green purged nothing of blue's");

	/* A restart of one adopts its own and leaves the other's alone. */
	applier_free(b);
	b = applier_on(l.ifindex, "flannel.2", "198.19.0.0/16", "198.19.1.0/24");
	need(b);
	before = nl_batch_total(applier_nl(b));
	feed(b, "{\"type\":\"snapshot\",\"revision\":21}");
	feed_green(b, 2, 22);
	feed(b, "{\"type\":\"sync\",\"revision\":21}");
	applier_flush(b);
	is_int(nl_batch_total(applier_nl(b)) - before, 0,
	       "a restarted applier rewrites nothing and purges nothing of the other");
	is_int(routes_in("100.64.0.0/10") + routes_in("198.19.0.0/16"), 40, "40 routes still");

	/* The range used up: new ids come from its start, around those held. */
	b->next_nhid = b->nh_hi - 1;
	feed_green(b, 22, 27);
	applier_flush(b);
	is_int(routes_in("198.19.0.0/16"), 25, "five more after the range wrapped");
	memset(&r.in_a, 0, 3 * sizeof(int));
	nl_nexthop_dump(nl, nh_range_count, &r);
	is_int(r.in_b, 25, "25 distinct nexthops in the green range");
	is_int((long)applier_stats(b)->errors, 0, "and the kernel refused none");
	applier_free(a);
	applier_free(b);
}

static int count_flannel_nh(const struct nl_nexthop *nh, void *arg)
{
	if (nh->protocol == RTPROT_FLANNEL && nh->id < (1u << NH_SEQ_BITS))
		++*(int *)arg;
	return 0;
}

/* Nexthops numbered before ranges (from 65536, as an applier that knows no
 * network still numbers them) are taken over through the routes that use
 * them: an upgrade rewrites nothing. */
static void test_legacy_ids(void)
{
	struct applier *a = applier_on(dev, "flannel.1", NULL, "100.64.1.0/24");
	unsigned long before;
	int n = 0;

	need(a);
	ok(a->nh_lo == NH_RANGE0_BASE, "without a network: ids from 65536");
	feed(a, "{\"type\":\"snapshot\",\"revision\":30}");
	feed_range(a, "added", 400, 405);
	feed(a, "{\"type\":\"sync\",\"revision\":30}");
	applier_flush(a);
	applier_free(a);
	nl_nexthop_dump(nl, count_flannel_nh, &n);
	is_int(n, 5, "five nexthops numbered the old way");
	a = new_applier();
	need(a);
	before = nl_batch_total(applier_nl(a));
	feed(a, "{\"type\":\"snapshot\",\"revision\":31}");
	feed_range(a, "added", 400, 405);
	is_int(nl_batch_total(applier_nl(a)) - before, 0,
	       "an applier with a range of its own adopts them, writes nothing");
	/* (The sync purges what earlier tests left in its network.) */
	feed(a, "{\"type\":\"sync\",\"revision\":31}");
	applier_flush(a);
	n = 0;
	nl_nexthop_dump(nl, count_flannel_nh, &n);
	is_int(n, 5, "and keeps them through its sync");
	feed_range(a, "removed", 400, 402);
	n = 0;
	nl_nexthop_dump(nl, count_flannel_nh, &n);
	is_int(n, 3, "a removed lease takes its old-numbered nexthop with it");
	applier_free(a);
}

static void test_alloc_failures(void)
{
	int crashes = 0;

	/* Every allocation of a small run fails once; ASan checks for leaks at exit. */
	for (unsigned long n = 1; n < 400; n++) {
		struct applier *a;

		fl_alloc_fail_at(n);
		a = new_applier();
		if (a) {
			feed_range(a, "added", 2, 12);
			feed(a, "{\"type\":\"snapshot\",\"revision\":1}");
			feed_range(a, "added", 2, 6);
			feed(a, "{\"type\":\"sync\",\"revision\":1}");
			feed_range(a, "removed", 2, 4);
			applier_free(a);
		}
		fl_alloc_fail_at(0);
	}
	ok(crashes == 0, "400 runs, each failing one allocation, end cleanly");
}

int main(void)
{
	const char *ci = getenv("CI");

	log_init("test_apply", 0);
	if (setup() < 0) {
		if (ci && strcmp(ci, "true") == 0) {
			printf("not ok 1 - needs root for a private network namespace under CI\n1..1\n");
			return 1;
		}
		printf("1..0 # SKIP needs root for a private network namespace\n");
		return 0;
	}
	test_apply();
	test_refused();
	test_two_networks();
	test_legacy_ids();
	test_alloc_failures();
	nl_close(nl);
	return tap_done();
}
