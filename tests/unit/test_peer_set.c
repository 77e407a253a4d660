/* peer_set: snapshots and their sync, changes published when the input
 * pauses, skipped leases, our own lease, the IPv6 key. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "model/peer_set.h"
#include "tap.h"

struct rec {
	struct peer_head h;
	uint32_t ip;
};

struct world {
	int publishes, selfs, synced, fail_publish;
	size_t seen;             /* records at the last publish */
};

static int on_self(void *arg, const struct lease *l)
{
	(void)l;
	((struct world *)arg)->selfs++;
	return 0;
}

/* Public IP 0.0.0.0 is refused; otherwise the record follows it. */
static int update(void *arg, void *rec, bool created, const struct lease *l)
{
	struct rec *r = rec;
	bool changed = created || r->ip != l->public_ip.v4.s_addr;

	(void)arg;
	if (!l->public_ip.v4.s_addr)
		return -1;
	r->ip = l->public_ip.v4.s_addr;
	return changed;
}

static struct peer_set *the_set;

static int publish(void *arg)
{
	struct world *w = arg;

	w->publishes++;
	w->seen = peer_set_count(the_set);
	return w->fail_publish ? -1 : 0;
}

static void synced(void *arg)
{
	((struct world *)arg)->synced++;
}

static const struct peer_set_ops ops = {
	.self = on_self, .update = update, .publish = publish,
};

static void feed(struct peer_set *s, enum event_type t, const char *subnet, const char *ip,
		 bool self)
{
	struct event ev;

	event_init(&ev);
	ev.type = t;
	if (subnet) {
		prefix_parse(subnet, strchr(subnet, ':') ? &ev.lease.subnet6 : &ev.lease.subnet);
	}
	ev.lease.public_ip.family = AF_INET;
	if (ip)
		addr_parse(ip, &ev.lease.public_ip);
	ev.lease.self = self;
	peer_set_event(s, &ev);
	event_clear(&ev);
}

static struct rec *find(struct peer_set *s, const char *subnet)
{
	struct prefix p;
	struct rec *r;
	size_t it = 0;

	prefix_parse(subnet, &p);
	while ((r = peer_set_next(s, &it)))
		if (prefix_equal(&r->h.key, &p))
			return r;
	return NULL;
}

int main(void)
{
	struct world w = { 0 };
	struct peer_set s;

	log_init("test_peer_set", 0);
	peer_set_init(&s, sizeof(struct rec), &ops, &w);
	s.on_synced = synced;
	s.on_synced_arg = &w;
	the_set = &s;

	feed(&s, EV_SNAPSHOT, NULL, NULL, false);
	feed(&s, EV_ADDED, "100.64.1.0/24", "192.0.2.1", false);
	feed(&s, EV_ADDED, "100.64.2.0/24", "192.0.2.2", false);
	feed(&s, EV_ADDED, "100.64.3.0/24", "0.0.0.0", false);
	feed(&s, EV_ADDED, "100.64.9.0/24", "192.0.2.9", true);
	ok(!peer_set_complete(&s), "inside a snapshot the set is not complete");
	peer_set_idle(&s);
	is_int(w.publishes, 0, "no publish while a snapshot is under way");
	is_int(w.selfs, 1, "our own lease goes to ops->self");
	is_int(peer_set_count(&s), 2, "the refused lease is not kept, nor our own");
	feed(&s, EV_SYNC, NULL, NULL, false);
	is_int(w.publishes, 1, "the sync publishes");
	is_int(w.seen, 2, "the whole snapshot");
	is_int(w.synced, 1, "synced after the first sync");
	ok(peer_set_complete(&s), "complete after the sync");

	peer_set_idle(&s);
	is_int(w.publishes, 1, "idle without a change publishes nothing");
	feed(&s, EV_ADDED, "100.64.1.0/24", "192.0.2.1", false);
	peer_set_idle(&s);
	is_int(w.publishes, 1, "the same lease again is no change");
	feed(&s, EV_ADDED, "100.64.1.0/24", "192.0.2.11", false);
	feed(&s, EV_ADDED, "100.64.4.0/24", "192.0.2.4", false);
	is_int(w.publishes, 1, "changes wait for the input to pause");
	peer_set_idle(&s);
	is_int(w.publishes, 2, "then one publish for both");
	ok(find(&s, "100.64.1.0/24") && find(&s, "100.64.1.0/24")->ip == htonl(0xc000020b),
	   "the record follows its lease");

	feed(&s, EV_ADDED, "100.64.4.0/24", "0.0.0.0", false);
	ok(find(&s, "100.64.4.0/24") != NULL, "a refused update keeps the old record");
	feed(&s, EV_REMOVED, "100.64.2.0/24", NULL, false);
	feed(&s, EV_REMOVED, "100.64.7.0/24", NULL, false);
	w.fail_publish = 1;
	peer_set_idle(&s);
	is_int(w.publishes, 3, "a removal publishes");
	peer_set_idle(&s);
	is_int(w.publishes, 4, "a failed publish is tried again at the next pause");
	w.fail_publish = 0;
	peer_set_idle(&s);
	peer_set_idle(&s);
	is_int(w.publishes, 5, "and not after it worked");
	ok(!find(&s, "100.64.2.0/24"), "the removed lease is gone");

	/* A new snapshot (the watch reconnected) that lacks 100.64.4.0/24,
	 * whose last update was refused: both the absent and the refused go. */
	feed(&s, EV_SNAPSHOT, NULL, NULL, false);
	feed(&s, EV_ADDED, "100.64.1.0/24", "192.0.2.11", false);
	feed(&s, EV_ADDED, "100.64.4.0/24", "0.0.0.0", false);
	feed(&s, EV_ADDED, "2001:db8:1::/64", "192.0.2.5", false);
	feed(&s, EV_SYNC, NULL, NULL, false);
	is_int(w.publishes, 6, "the second sync publishes");
	ok(find(&s, "100.64.1.0/24") && !find(&s, "100.64.4.0/24"),
	   "what the snapshot did not hold is dropped at its sync");
	ok(find(&s, "2001:db8:1::/64") != NULL, "an IPv6-only lease is keyed by its IPv6 subnet");
	is_int(peer_set_count(&s), 2, "two records");
	is_int(w.synced, 1, "synced only once");

	peer_set_free(&s);
	return tap_done();
}
