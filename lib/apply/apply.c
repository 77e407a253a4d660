/* apply.c - lease events into the kernel: each event planned by the
 * backend and batched; the batch is sent whenever input would block
 * (model/event_stream.c), so a snapshot goes out in large batches and a
 * single change at once. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply_priv.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "model/env.h"
#include "model/event_stream.h"
#include "netlink/iface.h"

static int detect_nexthops(struct applier *a)
{
	if (a->o.classic_routes) {
		log_info("using upstream's route shape (no nexthop objects), as asked");
		return 0;
	}
	a->k = kstate_dump(a);
	if (!a->k)
		return -1;
	if (a->k->no_nexthops) {
		a->o.classic_routes = true;
		log_notice("this kernel has no nexthop objects: using upstream's route shape,"
			   " whose cost grows with the square of the number of hosts");
		return 0;
	}
	a->nexthops = true;
	return 0;
}

struct applier *applier_new(const struct apply_backend *be, const struct apply_opts *o)
{
	struct applier *a = fl_calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->be_copy = *be;
	a->be = &a->be_copy;
	a->o = *o;
	nh_range(a);
	/* Peers announced by a lease have gen >= 1; adopted ones 0. */
	a->gen = 1;
	htab_init(&a->peers, sizeof(struct peer), sizeof(struct prefix));
	htab_init(&a->fdb, sizeof(struct fdb_ref), sizeof(struct fdb_key));
	htab_init(&a->links, 2 * sizeof(int), sizeof(int));
	a->nl = nl_open();
	if (!a->nl || nl_set_error_handler(a->nl, sizeof(struct cookie), apply_on_error, a) < 0) {
		log_err("open a netlink socket: %s", strerror(errno));
		goto fail;
	}
	/* Listen before dumping, so that no deletion falls between the two. */
	if (!a->o.no_monitor && apply_monitor_open(a) < 0) {
		log_err("open a netlink monitor socket: %s", strerror(errno));
		goto fail;
	}
	if (detect_nexthops(a) < 0)
		goto fail;
	if (!a->k && !(a->k = kstate_dump(a)))
		goto fail;
	if (a->k->max_nhid >= a->next_nhid)
		a->next_nhid = a->k->max_nhid + 1;
	apply_blackhole(a);
	return a;
fail:
	applier_free(a);
	return NULL;
}

void applier_free(struct applier *a)
{
	if (!a)
		return;
	nl_close(a->nl);
	nl_close(a->mon);
	kstate_free(a->k);
	free(a->nh_used);
	htab_free(&a->peers);
	htab_free(&a->fdb);
	htab_free(&a->links);
	free(a->failed);
	free(a);
}

struct nl *applier_nl(struct applier *a)
{
	return a->nl;
}

const struct apply_opts *applier_opts(const struct applier *a)
{
	return &a->o;
}

const void *applier_backend_data(const struct applier *a)
{
	return a->be->data;
}

int applier_direct_oif(struct applier *a, const struct ipaddr *ip, uint32_t *oif)
{
	struct nl_route r;
	int rc = nl_route_get(a->nl, ip, &r);

	if (rc < 0)
		return rc;
	/* Upstream's test: direct when the route has no gateway. */
	if (r.gw.family || !r.oif || r.type != RTN_UNICAST)
		return 0;
	*oif = r.oif;
	return 1;
}

const struct ipaddr *applier_public_ip(const struct lease *l, int family, char *err,
				       size_t errlen)
{
	const struct ipaddr *pub = lease_public_of(l, family);
	char ip[ADDR_STRLEN];

	if (!pub->family) {
		snprintf(err, errlen, "no public IPv%d address", family == AF_INET6 ? 6 : 4);
		return NULL;
	}
	if (addr_is_unusable(pub)) {
		snprintf(err, errlen, "public IP %s is not usable",
			 addr_format(pub, ip, sizeof(ip)));
		return NULL;
	}
	return pub;
}

int applier_plan_direct(struct applier *a, const struct ipaddr *ip, struct peer_want *w,
			char *err, size_t errlen)
{
	int rc = applier_direct_oif(a, ip, &w->oif);

	if (rc < 0) {
		snprintf(err, errlen, "look up the route to the public IP: %s", strerror(-rc));
		return -1;
	}
	if (rc == 1) {
		w->kind = PEER_GW;
		w->gw = *ip;
	}
	return rc;
}

const struct apply_stats *applier_stats(const struct applier *a)
{
	return &a->st;
}

static const struct prefix *lease_subnet(const struct lease *l, int i)
{
	return i ? &l->subnet6 : &l->subnet;
}

static int check_subnet(const struct applier *a, const struct prefix *s, char *err,
			size_t errlen)
{
	bool v6 = s->addr.family == AF_INET6;

	return subnet_check_remote(s, v6 ? &a->o.own6 : &a->o.own,
				   v6 ? &a->o.network6 : &a->o.network, err, errlen);
}

/* gen 0: only adopted from the kernel, no lease announced it. */
static bool peer_announced(void *arg, const struct prefix *q)
{
	struct peer *p = peer_find(arg, q);

	return p && p->gen;
}

/* A VTEP MAC already used by a different remote is a conflict, not an update. */
static int check_mac(struct applier *a, const struct prefix *s, const struct peer_want *w,
		     char *err, size_t errlen)
{
	struct fdb_key key = { .ifindex = dev_of(a, s->addr.family) };
	struct fdb_ref *f;
	struct peer *p = peer_find(a, s);
	char mac[20], ip[ADDR_STRLEN];

	if (w->kind != PEER_ENCAP)
		return 0;
	const struct ipaddr *dst;

	memcpy(key.mac, w->mac, 6);
	f = htab_get(&a->fdb, &key);
	if (f) {
		if (addr_equal(&f->dst, &w->vtep))
			return 0;
		if (p && (p->have & HAVE_FDB) && f->refs == 1 &&
		    memcmp(p->fdb_mac, w->mac, 6) == 0)
			return 0; /* only this subnet uses it: the VTEP moved */
		dst = &f->dst;
	} else {
		/* Not yet taken over from before our start, but in the kernel. */
		struct kfdb *k = a->k ? htab_get(&a->k->fdbs, &key) : NULL;

		if (!k || addr_equal(&k->dst, &w->vtep))
			return 0;
		dst = &k->dst;
	}
	snprintf(err, errlen, "VtepMAC %s is already used by the VTEP at %s",
		 mac_format(w->mac, mac, sizeof(mac)), addr_format(dst, ip, sizeof(ip)));
	return -1;
}

/* The peer for s; one the kernel already has from before we started is
 * taken over first (adopt), so that its objects are known. */
static struct peer *peer_known(struct applier *a, const struct prefix *s, bool create)
{
	struct peer *p = peer_find(a, s);
	struct prefix key;
	bool created;

	if (p || !s->addr.family)
		return p;
	/* Nothing from before our start (the common case on a fresh host). */
	if (!create && (!a->k || (!a->k->routes.count && !a->k->neighs.count)))
		return NULL;
	peer_key(&key, s);
	p = htab_put(&a->peers, &key, &created);
	if (!p)
		return NULL;
	subnet_lens_add(&a->peer_lens, s);
	peer_adopt(a, p, a->k);
	if (!create && !p->have) {
		peer_forget(a, p);
		return NULL;
	}
	return p;
}

static void remove_subnet(struct applier *a, const struct prefix *s)
{
	struct peer *p = peer_known(a, s, false);

	if (!p)
		return;
	peer_uninstall(a, p);
	peer_forget(a, p);
}

static int plan_lease(struct applier *a, const struct lease *l, struct peer_want w[2],
		      int has[2], char *err, size_t errlen)
{
	for (int i = 0; i < 2; i++) {
		const struct prefix *s = lease_subnet(l, i);

		has[i] = 0;
		if (!s->addr.family)
			continue;
		if (check_subnet(a, s, err, errlen) < 0 ||
		    subnet_check_peers(s, &a->peer_lens, peer_announced, a, err, errlen) < 0)
			return -1;
		memset(&w[i], 0, sizeof(w[i]));
		has[i] = a->be->plan(a, l, i ? AF_INET6 : AF_INET, &w[i], err, errlen);
		if (has[i] < 0 || (has[i] && check_mac(a, s, &w[i], err, errlen) < 0))
			return -1;
	}
	return 0;
}

static int add_peer(struct applier *a, const struct prefix *s, const struct peer_want *w)
{
	struct peer *p = peer_known(a, s, true);
	int n;

	if (!p) {
		log_err("remember subnet: out of memory");
		return -1;
	}
	p->want = *w;
	p->gen = a->gen;
	n = peer_install(a, p);
	if (n == 0)
		a->st.unchanged++;
	return n < 0 ? -1 : 0;
}

static int handle_added(struct applier *a, const struct event *ev)
{
	const struct lease *l = &ev->lease;
	struct peer_want w[2];
	int has[2];
	char err[256];

	if (strcmp(l->backend_type, a->be->name) != 0) {
		log_warn("skip lease %s: backend type \"%s\" is not \"%s\"", ev->key,
			 l->backend_type, a->be->name);
		a->st.skipped++;
		state_refused(a->o.state, &l->subnet, "its backend type is not this applier's");
		for (int i = 0; i < 2; i++)
			remove_subnet(a, lease_subnet(l, i));
		return 0;
	}
	/* Know what the kernel has for these subnets before judging the lease. */
	for (int i = 0; i < 2; i++)
		peer_known(a, lease_subnet(l, i), false);
	if (plan_lease(a, l, w, has, err, sizeof(err)) < 0) {
		log_warn("skip lease %s: %s", ev->key, err);
		a->st.skipped++;
		state_refused(a->o.state, l->subnet.addr.family ? &l->subnet : &l->subnet6, err);
		return 0;
	}
	a->st.added++;
	for (int i = 0; i < 2; i++) {
		if (has[i] && add_peer(a, lease_subnet(l, i), &w[i]) < 0)
			return -1;
		if (!has[i])
			remove_subnet(a, lease_subnet(l, i));
	}
	return 0;
}

static int handle_self(struct applier *a, const struct event *ev)
{
	const struct lease *l = &ev->lease;

	if (ev->type == EV_REMOVED) {
		log_notice("our own lease %s was removed", ev->key);
		return 0;
	}
	if (l->subnet.addr.family)
		a->o.own = l->subnet;
	if (l->subnet6.addr.family)
		a->o.own6 = l->subnet6;
	apply_blackhole(a);
	/* Never route our own subnet away. */
	for (int i = 0; i < 2; i++) {
		struct peer *p = peer_find(a, lease_subnet(l, i));

		if (p) {
			peer_uninstall(a, p);
			peer_forget(a, p);
		}
	}
	return a->be->self ? a->be->self(a, l) : 0;
}

/* Does the lease announce one of this host's own addresses?  Then it is
 * ours, whatever subnet.env the applier read (the kernel knows for sure). */
static bool lease_is_local(struct applier *a, const struct lease *l)
{
	int64_t now = mono_ms();

	if (!a->local_ms || now - a->local_ms > 1000) {
		a->n_local = iface_local_addrs(a->local, (int)(sizeof(a->local) / sizeof(a->local[0])));
		a->local_ms = now;
	}
	for (int i = 0; i < a->n_local; i++)
		if ((addr_is_set(&l->public_ip) && addr_equal(&a->local[i], &l->public_ip)) ||
		    (addr_is_set(&l->public_ip6) && addr_equal(&a->local[i], &l->public_ip6)))
			return true;
	return false;
}

/* Our own lease, not marked self: say so loudly, then treat it as ours. */
static int handle_unmarked_self(struct applier *a, const struct event *ev)
{
	char b[ADDR_STRLEN], s[ADDR_STRLEN];
	const struct lease *l = &ev->lease;

	log_err("lease %s announces this host's own address %s: it is our own lease, not "
		"marked self (does this applier read the subnet.env flannel-lease writes? "
		"see --subnet-file); never routing %s away",
		ev->key, addr_format(addr_is_set(&l->public_ip) ? &l->public_ip : &l->public_ip6,
				     b, sizeof(b)),
		prefix_format(l->subnet.addr.family ? &l->subnet : &l->subnet6, s, sizeof(s)));
	state_refused(a->o.state, l->subnet.addr.family ? &l->subnet : &l->subnet6,
		      "it announces this host's own address: our own lease, not marked self"
		      " (see --subnet-file)");
	return handle_self(a, ev);
}

/* After a snapshot: forget subnets it did not announce, then purge leftovers. */
static int handle_sync(struct applier *a, const struct event *ev)
{
	struct prefix *stale = NULL;
	size_t n = 0, it = 0;
	struct peer *p;
	int rc = 0;

	if (a->in_snapshot) {
		stale = fl_calloc(a->peers.count + 1, sizeof(*stale));
		if (!stale)
			return -1;
		while ((p = htab_next(&a->peers, &it)) != NULL)
			if (p->gen != a->gen)
				stale[n++] = p->subnet;
		for (size_t i = 0; i < n; i++) {
			p = peer_find(a, &stale[i]);
			peer_uninstall(a, p);
			peer_forget(a, p);
		}
		a->st.purged += n;
		free(stale);
	}
	a->in_snapshot = false;
	a->synced = true;
	if (a->k) {
		rc = kstate_purge(a, a->k);
		kstate_free(a->k);
		a->k = NULL;
	}
	if (applier_flush(a) < 0)
		rc = -1;
	log_info("in sync at revision %lld: %zu remote subnets", (long long)ev->revision,
		 a->peers.count);
	if (!a->told_synced && a->o.synced) {
		a->told_synced = true;
		a->o.synced(a->o.synced_arg);
	}
	return rc;
}

int applier_event(struct applier *a, const struct event *ev)
{
	switch (ev->type) {
	case EV_SNAPSHOT:
		a->gen++;
		a->in_snapshot = true;
		return 0;
	case EV_SYNC:
		return handle_sync(a, ev);
	case EV_ADDED:
		if (!ev->lease.self && lease_is_local(a, &ev->lease))
			return handle_unmarked_self(a, ev);
		return ev->lease.self ? handle_self(a, ev) : handle_added(a, ev);
	case EV_REMOVED:
		if (ev->lease.self)
			return handle_self(a, ev);
		a->st.removed++;
		remove_subnet(a, &ev->lease.subnet);
		remove_subnet(a, &ev->lease.subnet6);
		return 0;
	default:
		log_warn("skip event of unknown type \"%s\"", ev->type_name);
		return 0;
	}
}

int applier_flush(struct applier *a)
{
	if (nl_batch_flush(a->nl) < 0) {
		log_err("send to the kernel: %s", strerror(errno));
		return -1;
	}
	return apply_handle_failures(a);
}

static int sink_event(void *arg, const struct event *ev)
{
	state_event(((struct applier *)arg)->o.state, ev);
	return applier_event(arg, ev) < 0 ? -1 : 0;
}

static int sink_tick(void *arg)
{
	struct applier *a = arg;

	state_count_set(a->o.state, STATE_ERRORS, a->st.errors);
	state_count_set(a->o.state, STATE_HEALS, a->st.healed);
	return state_tick(a->o.state);
}

static int sink_idle(void *arg)
{
	return applier_flush(arg);
}

static int sink_extra(void *arg)
{
	return apply_monitor_read(arg);
}

/* SIGTERM and SIGINT end the run; SIGHUP reconciles. */
static int sink_signal(void *arg, int sig)
{
	struct applier *a = arg;

	if (sig == SIGTERM || sig == SIGINT) {
		log_info("stopping on signal %d; the kernel state stays", sig);
		return 1;
	}
	if (sig == SIGHUP) {
		log_notice("SIGHUP: dumping the kernel state and reconciling");
		a->want_reconcile = true;
		return apply_reconcile(a) < 0 ? -1 : 0;
	}
	return 0;
}

int applier_run(struct applier *a, int fd)
{
	struct event_sink s = { .event = sink_event, .idle = sink_idle, .signal = sink_signal,
				.sigfd = a->o.sigfd, .extra = a->mon ? sink_extra : NULL,
				.extra_fd = a->mon ? nl_fd(a->mon) : -1, .tick = sink_tick, .arg = a };
	int rc = event_stream_run(fd, &s);

	a->st.lines += s.lines;
	a->st.bad_lines += s.bad_lines;
	return rc;
}

void apply_opts_read_env(struct apply_opts *o, const char *path, bool warn,
			 const struct prefix *network)
{
	struct subnet_env env;

	if (env_read(path, &env) == 0) {
		o->own = env.subnet;
		o->own6 = env.subnet6;
		o->network = env.network;
		o->network6 = env.network6;
	} else if (warn) {
		log_warn("read %s: %s", path, strerror(errno));
	}
	if (network && network->addr.family == AF_INET)
		o->network = *network;
	else if (network && network->addr.family == AF_INET6)
		o->network6 = *network;
}

int apply_main(const struct apply_backend *be, struct apply_opts *o)
{
	struct applier *a = applier_new(be, o);
	const struct apply_stats *st;
	struct timespec t0, t1;
	int rc;

	if (!a)
		return FL_ERR_OS;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = applier_run(a, STDIN_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st = applier_stats(a);
	log_info("%lu lines in %.1f ms: %lu added, %lu removed, %lu unchanged, %lu skipped, "
		 "%lu malformed, %lu kernel errors, %lu healed, %lu purged",
		 st->lines, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		 st->added, st->removed, st->unchanged, st->skipped, st->bad_lines, st->errors,
		 st->healed, st->purged);
	if (rc == 0 && st->errors)
		rc = FL_ERR_FAILED;
	applier_free(a);
	return rc;
}
