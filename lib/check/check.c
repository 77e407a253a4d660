/* check.c - flannel-check's run: read etcd (the config, every lease),
 * subnet.env and the kernel once, then run the checks of this host and of
 * each peer (or of the one peer asked for) in a fixed order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ipip.h"
#include "backend/vxlan.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "check/check_priv.h"
#include "etcd/acquire.h"
#include "etcd/config_fetch.h"
#include "etcd/etcd_cli.h"
#include "netlink/iface.h"

#define SUBNET_ENV_DEFAULT "/run/flannel/subnet.env"

void check_opts_init(struct check_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->prefix = ETCD_DEFAULT_PREFIX;
	o->subnet_file = SUBNET_ENV_DEFAULT;
	o->probe_ms = 500;
	o->max_skew_s = 5;
	o->iptables = "iptables";
	o->nft = "nft";
}

struct range_ctx {
	struct check *c;
	char base[512];
	size_t cap;
	unsigned skipped;
	int err;
};

/* A lease from etcd, checked as flannel-watch checks it; a bad one is
 * flannel-watch's to report, and is not a peer here. */
static int on_kv(void *arg, const struct etcd_kv *kv)
{
	struct range_ctx *r = arg;
	struct check *c = r->c;
	struct check_peer *p;
	char why[256];

	if (c->n_peers == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct check_peer *n = fl_realloc(c->peers, cap * sizeof(*n));

		if (!n) {
			r->err = ENOMEM;
			return 1;
		}
		c->peers = n;
		r->cap = cap;
	}
	p = &c->peers[c->n_peers];
	memset(p, 0, sizeof(*p));
	lease_init(&p->l);
	if (kv->value_len > LEASE_VALUE_MAX ||
	    subnet_key_of(r->base, kv->key, kv->key_len, &p->l.subnet, &p->l.subnet6) < 0 ||
	    lease_parse_value(&p->l, kv->value, kv->value_len, why, sizeof(why)) < 0 ||
	    lease_validate(&p->l, why, sizeof(why)) < 0) {
		lease_clear(&p->l);
		r->skipped++;
		return 0;
	}
	snprintf(p->key, sizeof(p->key), "%s", kv->key + strlen(r->base));
	p->l.lease_id = kv->lease;
	p->underlay = -1;
	c->n_peers++;
	return 0;
}

static bool is_local(const struct ipaddr *ip)
{
	struct ipaddr a[64];
	int n = iface_local_addrs(a, 64);

	for (int i = 0; i < n; i++)
		if (addr_equal(&a[i], ip))
			return true;
	return false;
}

/* Our lease: the one of subnet.env's subnet, else the one of our public IP
 * (--public-ip, else any address of this host).  It leaves the peer list. */
static void find_self(struct check *c)
{
	struct ipaddr want = { 0 };
	size_t i, found = c->n_peers;

	if (c->o->public_ip && addr_parse(c->o->public_ip, &want) < 0)
		want.family = 0;
	for (i = 0; i < c->n_peers && found == c->n_peers; i++) {
		const struct lease *l = &c->peers[i].l;

		if (c->env_errno == 0 && c->env.subnet.addr.family &&
		    prefix_equal(&l->subnet, &c->env.subnet))
			found = i;
	}
	for (i = 0; i < c->n_peers && found == c->n_peers; i++) {
		const struct ipaddr *pub = &c->peers[i].l.public_ip;

		if (want.family ? addr_equal(pub, &want) : is_local(pub))
			found = i;
	}
	if (found == c->n_peers)
		return;
	c->self = c->peers[found].l;
	snprintf(c->self_key, sizeof(c->self_key), "%s", c->peers[found].key);
	c->peers[found] = c->peers[--c->n_peers];
}

static int read_etcd(struct check *c)
{
	struct range_ctx r = { .c = c };
	char err[256], net[ADDR_STRLEN], type[128], *end;
	int rc;

	rc = etcd_open(&c->o->etcd, &c->e, err, sizeof(err));
	if (rc != ETCD_OK) {
		log_err("set up etcd client: %s", err);
		return etcd_err(rc);
	}
	rc = config_fetch(c->e, c->o->prefix, &c->cfg);
	if (rc) {
		check_report(c, CHECK_FAIL, "etcd", c->o->prefix,
			     "check --etcd-endpoints and --etcd-prefix, and that etcd runs",
			     "cannot read the network config (the reason is above)");
		return rc;
	}
	if (acquire_key(c->o->prefix, "", r.base, sizeof(r.base)) < 0 ||
	    !(end = etcd_prefix_end(r.base))) {
		log_err("list leases under %s: %s", c->o->prefix, strerror(ENOMEM));
		return FL_ERR_OS;
	}
	rc = etcd_range_all(c->e, r.base, end, 500, on_kv, &r, &c->rev);
	free(end);
	if (r.err) {
		log_err("list leases under %s: %s", r.base, strerror(r.err));
		return FL_ERR_OS;
	}
	if (rc != ETCD_OK) {
		log_err("list leases under %s: %s", r.base, etcd_error(c->e));
		return etcd_err(rc);
	}
	check_report(c, CHECK_OK, "etcd", c->o->prefix, NULL,
		     "network %s, backend %s, %zu leases at revision %lld%s",
		     prefix_format(&c->cfg.network, net, sizeof(net)),
		     log_escape(c->cfg.backend_type, strlen(c->cfg.backend_type), type, sizeof(type)),
		     c->n_peers, (long long)c->rev, r.skipped ? " (and invalid ones)" : "");
	check_clock(c);
	return 0;
}

/* The backend's plan data, from the config as its tool gets it. */
union plan_data {
	struct vxlan_apply vx;
	struct ipip_apply ipip;
};

static int open_applier(struct check *c, union plan_data *d)
{
	struct apply_opts o = { .no_monitor = true, .sigfd = -1 };
	struct apply_backend be;
	struct vxlan_conf vc = { .vni = 1 };
	char err[160];

	if (!c->be->plan)
		return 0;
	be = *c->be->plan;
	memset(d, 0, sizeof(*d));
	if (c->be == &backend_vxlan && c->cfg.backend)
		(void)vxlan_conf_from_json(c->cfg.backend, &vc, &d->vx, err, sizeof(err));
	else if (c->be == &backend_ipip && c->cfg.backend)
		(void)ipip_conf_from_json(c->cfg.backend, &d->ipip, err, sizeof(err));
	be.data = d;
	be.self = NULL;
	o.network = c->cfg.network;
	o.network6 = c->cfg.network6;
	o.own = c->own;
	o.own6 = c->own6;
	o.dev_seen[1] = c->devname6[0] != '\0';
	if (c->has_dev6) {
		o.dev[1] = c->dev6.ifindex;
		snprintf(o.devname[1], sizeof(o.devname[1]), "%s", c->dev6.name);
	}
	/* a missing device: plan for it all the same, so its peers show as
	 * not installed */
	o.dev_seen[0] = c->devname[0] != '\0';
	if (c->has_dev) {
		o.dev[0] = c->dev.ifindex;
		snprintf(o.devname[0], sizeof(o.devname[0]), "%s", c->dev.name);
	}
	c->ap = applier_new(&be, &o);
	return c->ap ? 0 : FL_ERR_OS;
}

/* PEER: a subnet (exactly a lease's, or an address inside one) or a public IP. */
static bool peer_matches(const struct check_peer *p, const char *spec)
{
	struct prefix pf;
	struct ipaddr ip;

	if (strchr(spec, '/') && prefix_parse(spec, &pf) == 0)
		return prefix_equal(&pf, &p->l.subnet) || prefix_equal(&pf, &p->l.subnet6);
	if (addr_parse(spec, &ip) < 0)
		return false;
	return addr_equal(&ip, &p->l.public_ip) ||
	       (p->l.public_ip6.family && addr_equal(&ip, &p->l.public_ip6)) ||
	       prefix_contains_addr(&p->l.subnet, &ip);
}

static void run_peers(struct check *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_peers; i++) {
		struct check_peer *p = &c->peers[i];

		if (c->o->peer && !peer_matches(p, c->o->peer))
			continue;
		n++;
		p->selected = true;
		check_peer_installed(c, p);
		check_peer_probe(c, p);
	}
	if (c->o->peer && !n)
		check_report(c, CHECK_FAIL, "peer", c->o->peer,
			     "give a subnet or public IP that flannel-watch lists",
			     "no lease in etcd has this subnet or public IP");
}

static int run_checks(struct check *c)
{
	union plan_data d;
	int rc;

	c->env_errno = env_read(c->o->subnet_file, &c->env) < 0 ? errno : 0;
	if ((rc = read_etcd(c)))
		return rc;
	find_self(c);
	c->own = c->env_errno == 0 && c->env.subnet.addr.family ? c->env.subnet : c->self.subnet;
	c->own6 = c->env_errno == 0 && c->env.subnet6.addr.family ? c->env.subnet6 : c->self.subnet6;
	c->be = backend_find(c->cfg.backend_type);
	if (!c->be) {
		log_err("the network config's backend %s is not one of: %s", c->cfg.backend_type,
			backend_names());
		return FL_ERR_CONFIG;
	}
	check_env(c);
	check_instances(c);
	if (!(c->nl = nl_open())) {
		log_err("open a netlink socket: %s", strerror(errno));
		return FL_ERR_OS;
	}
	if (c->be->device) {
		c->be->device(&c->cfg, AF_INET, c->devname, sizeof(c->devname));
		if (c->own6.addr.family)
			c->be->device(&c->cfg, AF_INET6, c->devname6, sizeof(c->devname6));
	}
	c->has_dev = c->devname[0] && nl_link_get(c->nl, c->devname, 0, &c->dev) == 0;
	c->has_dev6 = c->devname6[0] && nl_link_get(c->nl, c->devname6, 0, &c->dev6) == 0;
	check_device(c);
	check_offload(c);
	if ((rc = check_kernel_dump(c)) || (rc = open_applier(c, &d)))
		return rc;
	check_tool_state(c);
	check_own_route(c);
	check_forward(c);
	run_peers(c);
	check_rp_filter(c);
	return 0;
}

int check_run(const struct check_opts *o)
{
	struct check c = { .o = o };
	int rc;

	config_init(&c.cfg);
	lease_init(&c.self);
	rc = run_checks(&c);
	if (rc == 0) {
		check_summary(&c);
		rc = c.n_fail ? FL_ERR_FAILED : 0;
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_err("write the report: %s", strerror(errno ? errno : EIO));
		rc = FL_ERR_IO;
	}
	for (size_t i = 0; i < c.n_peers; i++)
		lease_clear(&c.peers[i].l);
	free(c.peers);
	lease_clear(&c.self);
	if (c.ap)
		applier_free(c.ap);
	json_decref(c.tool_state);
	check_kernel_free(&c.k);
	if (c.nl)
		nl_close(c.nl);
	config_clear(&c.cfg);
	if (c.e)
		etcd_close(c.e);
	return rc;
}
