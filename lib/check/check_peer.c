/* check_peer.c - per peer: the backend's plan for its lease against the
 * kernel's routes, neighbours and FDB entries (host-gw: whether it is on a
 * link at all); then probes to its public IP: the path MTU the overlay
 * needs, and an echo through our device to its device, which goes out and
 * comes back in the backend's own packets (VXLAN, IPIP, flannel-udp's). */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "check/check_priv.h"
#include "status/state.h"

#define GROW(arr, n, item)                                                       \
	do {                                                                     \
		void *g_ = fl_realloc((arr), ((n) + 1) * sizeof(*(arr)));        \
		if (!g_)                                                         \
			return -ENOMEM;                                          \
		(arr) = g_;                                                      \
		(arr)[(n)++] = *(item);                                          \
	} while (0)

static int on_route(const struct nl_route *r, void *arg)
{
	struct check_kernel *k = arg;

	if (r->table && r->table != 254)
		return 0;
	GROW(k->routes, k->n_routes, r);
	return 0;
}

static int on_neigh(const struct nl_neigh *n, void *arg)
{
	struct check_kernel *k = arg;

	if (n->family == AF_BRIDGE)
		GROW(k->fdb, k->n_fdb, n);
	else
		GROW(k->neigh, k->n_neigh, n);
	return 0;
}

static int on_nh(const struct nl_nexthop *nh, void *arg)
{
	struct check_kernel *k = arg;

	GROW(k->nh, k->n_nh, nh);
	return 0;
}

int check_kernel_dump(struct check *c)
{
	int rc;

	do {
		check_kernel_free(&c->k);
		rc = nl_route_dump(c->nl, AF_INET, 0, on_route, &c->k);
		if (!rc && c->own6.addr.family)
			rc = nl_route_dump(c->nl, AF_INET6, 0, on_route, &c->k);
		if (!rc && c->has_dev)
			rc = nl_neigh_dump(c->nl, AF_INET, c->dev.ifindex, on_neigh, &c->k);
		if (!rc && c->has_dev)
			rc = nl_neigh_dump(c->nl, AF_BRIDGE, c->dev.ifindex, on_neigh, &c->k);
		if (!rc && c->has_dev6)
			rc = nl_neigh_dump(c->nl, AF_INET6, c->dev6.ifindex, on_neigh, &c->k);
		if (!rc && c->has_dev6)
			rc = nl_neigh_dump(c->nl, AF_BRIDGE, c->dev6.ifindex, on_neigh, &c->k);
		if (!rc && (rc = nl_nexthop_dump(c->nl, on_nh, &c->k)) &&
		    (rc == -EOPNOTSUPP || rc == -EINVAL))
			rc = 0;
	} while (rc == -EINTR);
	if (rc < 0)
		log_err("read the kernel's routes and neighbours: %s", nl_strerror(c->nl, rc));
	return rc < 0 ? FL_ERR_OS : 0;
}

void check_kernel_free(struct check_kernel *k)
{
	free(k->routes);
	free(k->neigh);
	free(k->fdb);
	free(k->nh);
	memset(k, 0, sizeof(*k));
}

static const struct nl_nexthop *nexthop(const struct check *c, uint32_t id)
{
	for (size_t i = 0; i < c->k.n_nh; i++)
		if (c->k.nh[i].id == id)
			return &c->k.nh[i];
	return NULL;
}

/* The route to sub goes via w.gw on w.oif (directly or by a nexthop): 2;
 * a route to sub that does not: 1; none: 0. */
static int route_state(const struct check *c, const struct prefix *sub, const struct peer_want *w)
{
	int found = 0;

	for (size_t i = 0; i < c->k.n_routes; i++) {
		const struct nl_route *r = &c->k.routes[i];
		struct ipaddr gw = r->gw;
		uint32_t oif = r->oif;

		if (!prefix_equal(&r->dst, sub))
			continue;
		found = 1;
		if (r->nhid) {
			const struct nl_nexthop *nh = nexthop(c, r->nhid);

			if (!nh)
				continue;
			gw = nh->gw;
			oif = nh->oif;
		}
		if (addr_equal(&gw, &w->gw) && oif == w->oif)
			return 2;
	}
	return found;
}

static bool has_neigh(const struct check *c, const struct peer_want *w)
{
	for (size_t i = 0; i < c->k.n_neigh; i++)
		if (addr_equal(&c->k.neigh[i].ip, &w->gw) && !memcmp(c->k.neigh[i].mac, w->mac, 6))
			return true;
	return false;
}

static bool has_fdb(const struct check *c, const struct peer_want *w)
{
	for (size_t i = 0; i < c->k.n_fdb; i++)
		if (addr_equal(&c->k.fdb[i].ip, &w->vtep) && !memcmp(c->k.fdb[i].mac, w->mac, 6))
			return true;
	return false;
}

static void subject(const struct check_peer *p, int family, char *buf, size_t len)
{
	char s[ADDR_STRLEN], a[ADDR_STRLEN];

	snprintf(buf, len, "%s (%s)", prefix_format(lease_subnet_of(&p->l, family), s, sizeof(s)),
		 addr_format(lease_public_of(&p->l, family), a, sizeof(a)));
}

static void applier_fix(const struct check *c, char *fix, size_t len)
{
	snprintf(fix, len, "start or restart the applier (flannel-watch | %s apply, or flanneld): "
		 "it installs every peer and restores what is deleted", c->be->tool);
}

static void report_onlink(struct check *c, const struct check_peer *p, const char *subj)
{
	if (c->be != &backend_hostgw)
		return;
	if (p->planned == 1)
		check_report(c, CHECK_OK, "onlink", subj, NULL, "on a link of this host");
	else
		check_report(c, CHECK_FAIL, "onlink", subj,
			     "put the hosts on one layer-2 network, or use vxlan with "
			     "\"DirectRouting\": true (routed where on a link, encapsulated elsewhere)",
			     "%s", p->plan_err);
}

/* Append one missing object to the list in buf. */
static void missing(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void missing(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n && n + 2 < len) {
		memcpy(buf + n, ", ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* One family of a peer: what its plan says, against the kernel. */
struct fam {
	int family;
	int *planned;
	struct peer_want *w;
	char *err;
	size_t errlen;
	bool *installed;
};

static void check_family(struct check *c, struct check_peer *p, const struct fam *f)
{
	char subj[2 * ADDR_STRLEN + 4], miss[384] = "", fix[256], g[ADDR_STRLEN], v[ADDR_STRLEN],
		m[20];
	const struct peer_want *w = f->w;
	bool nb, fdb;
	int rs;

	subject(p, f->family, subj, sizeof(subj));
	*f->planned = c->be->plan->plan(c->ap, &p->l, f->family, f->w, f->err, f->errlen);
	if (f->family == AF_INET)
		report_onlink(c, p, subj);
	if (*f->planned < 0) {
		if (c->be != &backend_hostgw)
			check_report(c, CHECK_FAIL, "peer", subj,
				     "fix the lease (its host's flannel-lease writes it)",
				     "nothing installed: the %s backend refuses the lease: %s",
				     c->be->name, f->err);
		return;
	}
	if (*f->planned == 0) {
		if (f->family == AF_INET)
			check_report(c, CHECK_OK, "peer", subj, NULL,
				     "nothing to install for IPv4 here");
		return;
	}
	rs = route_state(c, lease_subnet_of(&p->l, f->family), w);
	nb = w->kind != PEER_ENCAP || has_neigh(c, w);
	fdb = w->kind != PEER_ENCAP || has_fdb(c, w);
	addr_format(&w->gw, g, sizeof(g));
	addr_format(&w->vtep, v, sizeof(v));
	mac_format(w->mac, m, sizeof(m));
	*f->installed = rs == 2 && nb && fdb;
	if (*f->installed) {
		check_report(c, CHECK_OK, "peer", subj, NULL, "installed: route via %s%s%s", g,
			     w->kind == PEER_ENCAP ? ", neighbour and FDB entry for " : "",
			     w->kind == PEER_ENCAP ? m : "");
		return;
	}
	if (rs == 0)
		missing(miss, sizeof(miss), "no route");
	else if (rs == 1)
		missing(miss, sizeof(miss), "the route does not go via %s", g);
	if (!nb)
		missing(miss, sizeof(miss), "no neighbour entry %s lladdr %s", g, m);
	if (!fdb)
		missing(miss, sizeof(miss), "no FDB entry %s dst %s", m, v);
	applier_fix(c, fix, sizeof(fix));
	check_report(c, CHECK_FAIL, "peer", subj, fix, "%s%s",
		     rs == 0 && !nb && !fdb ? "nothing installed: " : "", miss);
}

void check_tool_state(struct check *c)
{
	const char *dir = c->o->state_dir && *c->o->state_dir ? c->o->state_dir : STATE_DIR_DEFAULT;

	if (c->ap || !c->be->tool)
		return;
	json_decref(c->tool_state);
	c->tool_state = NULL;
	if (snprintf(c->tool_state_path, sizeof(c->tool_state_path), "%s/%s.json", dir,
		     c->be->tool) >= (int)sizeof(c->tool_state_path)) {
		snprintf(c->tool_state_why, sizeof(c->tool_state_why), "the path is too long");
		return;
	}
	c->tool_state = state_doc_load(c->tool_state_path, c->tool_state_why,
				       sizeof(c->tool_state_why));
	c->tool_gone = c->tool_state && !state_doc_running(c->tool_state);
}

/*
 * udp, wireguard and ipsec (and the extension's hooks) keep their peers in
 * their tools: what the tool's state document says it did with the lease.
 * It is written at most once a second, so a lease younger than that may
 * not be in it yet.
 */
static void peer_by_state(struct check *c, struct check_peer *p, const char *subj)
{
	const json_t *doc = c->tool_state, *e;
	const char *why;
	char fix[256];

	if (!c->be->tool) {
		check_report(c, CHECK_OK, "peer", subj, NULL,
			     "nothing to install for the %s backend", c->be->name);
		return;
	}
	if (!doc) {
		check_report(c, CHECK_SKIP, "peer", subj, NULL,
			     "the %s backend keeps its peers in %s, not in kernel routes; its state "
			     "%s: %s (see --state-dir)", c->be->name, c->be->tool,
			     c->tool_state_path[0] ? c->tool_state_path : "file", c->tool_state_why);
		return;
	}
	if (c->tool_gone) {
		applier_fix(c, fix, sizeof(fix));
		check_report(c, CHECK_FAIL, "peer", subj, fix,
			     "nothing installed: %s (pid %lld, %s) is not running", c->be->tool,
			     (long long)json_integer_value(json_object_get(doc, "pid")),
			     c->tool_state_path);
		return;
	}
	e = state_doc_peer(doc, p->l.subnet.addr.family ? &p->l.subnet : &p->l.subnet6);
	if ((!e || !json_is_true(json_object_get(doc, "synced"))) && !c->tool_state_reread) {
		/* written at most once a second: what changed just now is
		 * in the next one; read it once more before judging */
		c->tool_state_reread = true;
		usleep((STATE_PERIOD_MS + 200) * 1000);
		check_tool_state(c);
		peer_by_state(c, p, subj);
		return;
	}
	if (e && json_is_true(json_object_get(e, "installed"))) {
		p->installed = true;
		check_report(c, CHECK_OK, "peer", subj, NULL, "installed by %s (pid %lld)",
			     c->be->tool,
			     (long long)json_integer_value(json_object_get(doc, "pid")));
		return;
	}
	if (e) {
		why = json_string_value(json_object_get(e, "reason"));
		check_report(c, CHECK_FAIL, "peer", subj,
			     "a fault of the lease is fixed on its host (its flannel-lease writes "
			     "it), one of this host in its log (journalctl -u flanneld)",
			     "nothing installed: %s refused it: %s", c->be->tool,
			     why ? why : "(no reason given)");
		return;
	}
	if (json_integer_value(json_object_get(doc, "peer_count")) >= STATE_PEERS_MAX) {
		check_report(c, CHECK_SKIP, "peer", subj, NULL,
			     "%s lists %d peers at most in %s, and not this one", c->be->tool,
			     STATE_PEERS_MAX, c->tool_state_path);
		return;
	}
	if (!json_is_true(json_object_get(doc, "synced"))) {
		check_report(c, CHECK_SKIP, "peer", subj, NULL,
			     "%s has not synced with etcd yet (%s)", c->be->tool,
			     c->tool_state_path);
		return;
	}
	applier_fix(c, fix, sizeof(fix));
	check_report(c, CHECK_FAIL, "peer", subj, fix,
		     "nothing installed: %s (pid %lld) does not know the lease", c->be->tool,
		     (long long)json_integer_value(json_object_get(doc, "pid")));
}

void check_peer_installed(struct check *c, struct check_peer *p)
{
	const struct fam v4 = { AF_INET, &p->planned, &p->w, p->plan_err, sizeof(p->plan_err),
				&p->installed };
	const struct fam v6 = { AF_INET6, &p->planned6, &p->w6, p->plan_err6,
				sizeof(p->plan_err6), &p->installed6 };
	char subj[2 * ADDR_STRLEN + 4];

	if (!c->ap) {
		p->planned = 0;
		subject(p, p->l.subnet.addr.family ? AF_INET : AF_INET6, subj, sizeof(subj));
		peer_by_state(c, p, subj);
		return;
	}
	if (p->l.subnet.addr.family)
		check_family(c, p, &v4);
	if (p->l.subnet6.addr.family && c->own6.addr.family)
		check_family(c, p, &v6);
}

/* The IP packet size the overlay needs on the underlay: FLANNEL_MTU (else
 * the device's) plus what the backend adds, from its MTU rule. */
static unsigned need_size(const struct check *c, const struct check_peer *p, unsigned *overlay,
			  unsigned *extra)
{
	*overlay = c->env_errno == 0 && c->env.mtu ? c->env.mtu : c->has_dev ? c->dev.mtu : 0;
	*extra = c->be->mtu ? 1500 - c->be->mtu(&c->cfg, 1500) : 0;
	if (p->planned == 1 && p->w.kind == PEER_GW)
		*extra = 0; /* DirectRouting: not encapsulated */
	return *overlay ? *overlay + *extra : 0;
}

static void probe_mtu(struct check *c, struct check_peer *p, const char *pub)
{
	unsigned overlay, extra, need = need_size(c, p, &overlay, &extra), mtu;
	char fix[256];
	int rc;

	if (!need) {
		check_report(c, CHECK_SKIP, "mtu", pub, NULL, "no FLANNEL_MTU and no device");
		return;
	}
	if (p->underlay <= 0) {
		check_report(c, CHECK_SKIP, "mtu", pub, NULL,
			     "it does not answer a small ping on the underlay");
		return;
	}
	rc = probe_echo(&p->l.public_ip, NULL, need, c->o->probe_ms);
	if (rc == 1) {
		check_report(c, CHECK_OK, "mtu", pub, NULL,
			     "a %u-byte don't-fragment ping passes (FLANNEL_MTU %u + %u for %s)", need,
			     overlay, extra, c->be->name);
		return;
	}
	if (rc < 0 && rc != -EHOSTUNREACH) {
		check_report(c, CHECK_SKIP, "mtu", pub, NULL, "probe: %s", strerror(-rc));
		return;
	}
	if (probe_path_mtu(&p->l.public_ip, 64, need, c->o->probe_ms, &mtu) < 0)
		mtu = 0;
	snprintf(fix, sizeof(fix), "raise the MTU of the path to %s to %u, or lower the overlay's "
		 "on every host (flannel-lease --mtu=%u, or Backend.MTU)", pub, need,
		 mtu > extra ? mtu - extra : 0);
	check_report(c, CHECK_FAIL, "mtu", pub, fix,
		     "the path MTU is %u, but the overlay needs %u (FLANNEL_MTU %u + %u for %s): "
		     "larger packets are lost", mtu, need, overlay, extra, c->be->name);
}

static void probe_port(struct check *c, struct check_peer *p, const char *pub)
{
	char what[64], dst[ADDR_STRLEN], fix[256], how[160];
	unsigned port = c->be->port ? c->be->port(&c->cfg) : 0;
	int rc;

	if (port)
		snprintf(what, sizeof(what), "UDP %u", port);
	else
		snprintf(what, sizeof(what), "%s packets", c->be->name);
	if (!c->devname[0]) {
		check_report(c, CHECK_SKIP, "port", pub, NULL,
			     "no encapsulation: ping a container of that host instead");
		return;
	}
	if (p->planned == 1 && p->w.kind == PEER_GW) {
		check_report(c, CHECK_SKIP, "port", pub, NULL, "routed directly (DirectRouting)");
		return;
	}
	addr_format(&p->l.subnet.addr, dst, sizeof(dst));
	/* udp and wireguard keep their peers in their tools: probe anyway */
	if (!c->ap || p->installed) {
		/* our device's address (our subnet's first) to its device's */
		rc = probe_echo(&p->l.subnet.addr, &c->own.addr, 64, c->o->probe_ms);
		snprintf(how, sizeof(how), "an echo through %s to %s", c->devname, dst);
	} else if (c->be == &backend_vxlan && c->has_dev && c->dev.has_vxlan && p->planned == 1) {
		/* nothing of ours to send it with: a VXLAN packet made by hand */
		struct probe_vxlan v = { .vtep = p->w.vtep, .src = c->own.addr,
					 .dst = p->l.subnet.addr, .port = (uint16_t)port,
					 .vni = c->dev.vxlan.vni };

		memcpy(v.src_mac, c->dev.mac, 6);
		memcpy(v.dst_mac, p->w.mac, 6);
		rc = probe_vxlan(&v, c->o->probe_ms);
		snprintf(how, sizeof(how), "a VXLAN echo made by hand to %s (nothing of it is "
			 "installed here)", dst);
	} else {
		check_report(c, CHECK_SKIP, "port", pub, NULL, "nothing installed for it (above)");
		return;
	}
	if (rc == 1) {
		check_report(c, CHECK_OK, "port", pub, NULL, "%s is answered (%s both ways)", how,
			     what);
		return;
	}
	if (rc < 0 && rc != -EHOSTUNREACH) {
		check_report(c, CHECK_SKIP, "port", pub, NULL, "%s: %s", how, strerror(-rc));
		return;
	}
	snprintf(fix, sizeof(fix), "allow %s between the public IPs, both ways, in the firewalls "
		 "of both hosts and of the path (iptables, nft, security groups)", what);
	check_report(c, CHECK_FAIL, "port", pub, fix,
		     "%s gets no answer%s: %s to %s is blocked, or %s's way back is", how,
		     p->underlay > 0 ? " while a plain ping does" : " (nor does a plain ping)", what,
		     pub, pub);
}

void check_peer_probe(struct check *c, struct check_peer *p)
{
	char pub[ADDR_STRLEN];

	addr_format(&p->l.public_ip, pub, sizeof(pub));
	if (!p->l.subnet.addr.family || !addr_is_set(&p->l.public_ip)) {
		check_report(c, CHECK_SKIP, "mtu", p->key, NULL, "an IPv6 lease: not probed");
		return;
	}
	p->underlay = probe_echo(&p->l.public_ip, NULL, 64, c->o->probe_ms);
	if (p->underlay < 0 && p->underlay != -EHOSTUNREACH) {
		check_report(c, CHECK_SKIP, "mtu", pub, NULL, "probe: %s (probes need CAP_NET_RAW)",
			     strerror(-p->underlay));
		check_report(c, CHECK_SKIP, "port", pub, NULL, "probe: %s (probes need CAP_NET_RAW)",
			     strerror(-p->underlay));
		return;
	}
	if (p->underlay < 0)
		p->underlay = 0;
	probe_mtu(c, p, pub);
	probe_port(c, p, pub);
}
