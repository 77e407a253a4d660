/* ipsec_run.c - flannel-ipsec apply: upstream's ipsec backend.  charon
 * (ours, or one already running) negotiates IKEv2 with every peer and
 * installs the ESP SAs; we load the PSK and one connection per remote lease
 * over VICI and install the three XFRM policies per peer ourselves, each
 * peer with a reqid of its own, tagged (XFRM_REQID_TAG) so that policies
 * deleted by hand come back and stale ones go after a sync.  Every few
 * seconds: the policies, charon's SAs (a peer that gets no IKE_SA is
 * reported) and charon's log (an authentication failure is reported with
 * its cause). */
#include <errno.h>
#include <linux/xfrm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/htab.h"
#include "base/log.h"
#include "ipsec/charon.h"
#include "ipsec/ipsec.h"
#include "model/env.h"
#include "model/event_stream.h"
#include "netlink/iface.h"
#include "netlink/xfrm.h"

struct peer {
	struct prefix subnet; /* key */
	struct ipaddr ip;
	uint32_t reqid, gen;
	bool loaded;          /* its key and connection are in charon */
	bool installed;       /* its policies were put */
	bool established, warned;
	int64_t since;        /* monotonic s: loaded */
	int64_t auth_warned;
	char conn[200];
};

struct ctl {
	const struct ipsec_opts *o;
	struct nl *x;
	struct charon ch;
	char charon_path[4096], vici[4200];
	struct vici_conn vc, logc;
	struct htab peers;
	struct prefix own, network;
	struct ipaddr own_ip;
	bool own_known, key_loaded;
	uint32_t gen;
	bool in_snapshot, synced, dirty;
	int timer_fd;
	int64_t restart_at;
	unsigned restarts;
};

static int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void conf_of(const struct ctl *c, const struct peer *p, struct ipsec_peer_conf *pc)
{
	*pc = (struct ipsec_peer_conf){ .own_ip = c->own_ip, .peer_ip = p->ip, .own = c->own,
					.peer = p->subnet, .reqid = p->reqid };
}

/* Upstream's three: out, in and fwd, ESP in tunnel mode. */
static void policies_of(const struct ctl *c, const struct peer *p, struct xfrm_pol pol[3])
{
	pol[0] = (struct xfrm_pol){ .dir = XFRM_POLICY_OUT, .src = c->own, .dst = p->subnet,
				    .tsrc = c->own_ip, .tdst = p->ip, .reqid = p->reqid };
	pol[1] = (struct xfrm_pol){ .dir = XFRM_POLICY_IN, .src = p->subnet, .dst = c->own,
				    .tsrc = p->ip, .tdst = c->own_ip, .reqid = p->reqid };
	pol[2] = pol[1];
	pol[2].dir = XFRM_POLICY_FWD;
}

static const char *dir_name(uint8_t dir)
{
	return dir == XFRM_POLICY_OUT ? "out" : dir == XFRM_POLICY_IN ? "in" : "fwd";
}

static bool same_policy(const struct xfrm_pol *a, const struct xfrm_pol *b)
{
	return a->dir == b->dir && prefix_equal(&a->src, &b->src) &&
	       prefix_equal(&a->dst, &b->dst) && addr_equal(&a->tsrc, &b->tsrc) &&
	       addr_equal(&a->tdst, &b->tdst) && a->reqid == b->reqid;
}

static const char *pol_text(const struct xfrm_pol *p, char *buf, size_t len)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], d[ADDR_STRLEN], e[ADDR_STRLEN];

	snprintf(buf, len, "%s %s -> %s via %s -> %s reqid %u", dir_name(p->dir),
		 prefix_format(&p->src, a, sizeof(a)), prefix_format(&p->dst, b, sizeof(b)),
		 addr_format(&p->tsrc, d, sizeof(d)), addr_format(&p->tdst, e, sizeof(e)),
		 p->reqid);
	return buf;
}

static int install(struct ctl *c, struct peer *p)
{
	struct xfrm_pol pol[3];
	char t[200];

	policies_of(c, p, pol);
	for (int i = 0; i < 3; i++) {
		int rc = xfrm_policy_put(c->x, &pol[i]);

		if (rc < 0) {
			log_err("install the policy %s: %s", pol_text(&pol[i], t, sizeof(t)),
				nl_strerror(c->x, rc));
			return -1;
		}
	}
	p->installed = true;
	return 0;
}

static void uninstall(struct ctl *c, struct peer *p)
{
	struct xfrm_pol pol[3];
	char t[200];

	if (!c->own_known)
		return;
	policies_of(c, p, pol);
	for (int i = 0; i < 3; i++) {
		int rc = xfrm_policy_del(c->x, &pol[i]);

		if (rc < 0)
			log_warn("delete the policy %s: %s", pol_text(&pol[i], t, sizeof(t)),
				 nl_strerror(c->x, rc));
	}
	p->installed = false;
}

static void forget_charon(struct ctl *c)
{
	struct peer *p;
	size_t it = 0;

	vici_disconnect(&c->vc);
	vici_disconnect(&c->logc);
	c->key_loaded = false;
	while ((p = htab_next(&c->peers, &it)))
		p->loaded = p->established = false;
}

/* Connected to charon's VICI socket, or trying again at the next tick. */
static bool vici_up(struct ctl *c)
{
	char err[4400];

	if (c->vc.fd >= 0)
		return true;
	forget_charon(c); /* a new charon, or the same one again: load everything */
	if (vici_connect(&c->vc, c->vici, err, sizeof(err)) < 0) {
		log_debug("%s", err);
		return false;
	}
	if (vici_connect(&c->logc, c->vici, err, sizeof(err)) < 0 ||
	    vici_listen(&c->logc, "log", 5000, err, sizeof(err)) < 0) {
		log_warn("follow charon's log: %s (authentication failures will not be named)",
			 err);
		vici_disconnect(&c->logc);
	}
	log_info("connected to charon at %s", c->vici);
	return true;
}

static void vici_failed(struct ctl *c, const char *what, const char *err)
{
	log_err("%s: %s", what, err);
	if (c->vc.fd < 0)
		forget_charon(c); /* reconnect and load everything again */
}

static void load_peer(struct ctl *c, struct peer *p)
{
	struct ipsec_peer_conf pc;
	char err[400], s[ADDR_STRLEN], ip[ADDR_STRLEN];

	conf_of(c, p, &pc);
	prefix_format(&p->subnet, s, sizeof(s));
	addr_format(&p->ip, ip, sizeof(ip));
	if (ipsec_load_key(&c->vc, c->o, &c->own_ip, &p->ip, err, sizeof(err)) < 0) {
		vici_failed(c, "load the PSK for a peer", err);
		return;
	}
	if (ipsec_load_conn(&c->vc, c->o, &pc, err, sizeof(err)) < 0) {
		vici_failed(c, "load the connection to a peer", err);
		return;
	}
	p->loaded = true;
	p->established = p->warned = false;
	p->since = mono();
	log_info("peer %s (%s): connection %s loaded (reqid %u)", s, ip, p->conn, p->reqid);
}

static void unload_peer(struct ctl *c, struct peer *p)
{
	char err[400];

	if (!p->loaded || !vici_up(c))
		return;
	if (ipsec_unload_conn(&c->vc, p->conn, err, sizeof(err)) < 0)
		log_warn("unload the connection %s: %s", p->conn, err);
	if (c->vc.fd >= 0 && ipsec_unload_key(&c->vc, &p->ip, err, sizeof(err)) < 0)
		log_warn("unload the PSK of %s: %s", p->conn, err);
	p->loaded = false;
}

static void reconcile(struct ctl *c)
{
	struct peer *p;
	size_t it = 0;
	char err[400];

	c->dirty = false;
	if (!c->own_known)
		return;
	while ((p = htab_next(&c->peers, &it)))
		if (!p->installed)
			install(c, p);
	if (!vici_up(c)) {
		c->dirty = true;
		return;
	}
	if (!c->key_loaded) {
		static const struct ipaddr none;

		if (ipsec_load_key(&c->vc, c->o, &c->own_ip, &none, err, sizeof(err)) < 0) {
			vici_failed(c, "load the PSK", err);
			return;
		}
		c->key_loaded = true;
	}
	it = 0;
	while (c->vc.fd >= 0 && (p = htab_next(&c->peers, &it)))
		if (!p->loaded)
			load_peer(c, p);
}

/* ---- the periodic checks ---- */

struct pol_set {
	struct xfrm_pol *v;
	size_t n, cap;
};

static int collect(const struct xfrm_pol *p, void *arg)
{
	struct pol_set *s = arg;

	if (!XFRM_REQID_OURS(p->reqid))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct xfrm_pol *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *p;
	return 0;
}

static bool wanted(struct ctl *c, const struct xfrm_pol *have)
{
	struct xfrm_pol pol[3];
	struct peer *p;
	size_t it = 0;

	while ((p = htab_next(&c->peers, &it))) {
		if (p->reqid != have->reqid)
			continue;
		policies_of(c, p, pol);
		for (int i = 0; i < 3; i++)
			if (same_policy(&pol[i], have))
				return true;
	}
	return false;
}

/* Ours as they should be: missing ones back, after a sync stale ones out. */
static void check_policies(struct ctl *c)
{
	struct pol_set s = { 0 };
	struct xfrm_pol pol[3];
	struct peer *p;
	size_t it = 0;
	char t[200];
	int rc;

	if (!c->own_known)
		return;
	rc = xfrm_policy_dump(c->x, collect, &s);
	if (rc < 0) {
		log_err("list the XFRM policies: %s", nl_strerror(c->x, rc));
		free(s.v);
		return;
	}
	while ((p = htab_next(&c->peers, &it))) {
		if (!p->installed)
			continue;
		policies_of(c, p, pol);
		for (int i = 0; i < 3; i++) {
			bool found = false;

			for (size_t k = 0; k < s.n && !found; k++)
				found = same_policy(&pol[i], &s.v[k]);
			if (found)
				continue;
			log_notice("policy %s is missing (deleted by hand?): restoring it",
				   pol_text(&pol[i], t, sizeof(t)));
			rc = xfrm_policy_put(c->x, &pol[i]);
			if (rc < 0)
				log_err("restore the policy %s: %s", t, nl_strerror(c->x, rc));
		}
	}
	for (size_t k = 0; c->synced && !c->in_snapshot && k < s.n; k++) {
		if (wanted(c, &s.v[k]))
			continue;
		log_notice("policy %s: no lease wants it: removing it",
			   pol_text(&s.v[k], t, sizeof(t)));
		rc = xfrm_policy_del(c->x, &s.v[k]);
		if (rc < 0)
			log_err("remove the policy %s: %s", t, nl_strerror(c->x, rc));
	}
	free(s.v);
}

static struct peer *peer_by_conn(struct ctl *c, const char *name)
{
	struct peer *p;
	size_t it = 0;

	while (name && (p = htab_next(&c->peers, &it)))
		if (strcmp(p->conn, name) == 0)
			return p;
	return NULL;
}

struct sa_seen {
	struct ctl *c;
	struct htab *up; /* struct prefix of peers with an IKE and a CHILD SA */
};

static int on_sa(void *arg, const struct ipsec_sa *sa)
{
	struct sa_seen *s = arg;
	struct peer *p = peer_by_conn(s->c, sa->name);
	bool created;

	if (!p || strcmp(sa->ike_state, "ESTABLISHED") || strcmp(sa->child_state, "INSTALLED"))
		return 0;
	return htab_put(s->up, &p->subnet, &created) ? 0 : -1;
}

/* Report peers that come up, go down, or never come up. */
static void check_sas(struct ctl *c)
{
	struct htab up;
	struct sa_seen s = { c, &up };
	struct peer *p;
	size_t it = 0;
	char err[400], a[ADDR_STRLEN], b[ADDR_STRLEN];
	int64_t now = mono();

	if (c->vc.fd < 0)
		return;
	htab_init(&up, sizeof(struct prefix), sizeof(struct prefix));
	if (ipsec_list_sas(&c->vc, on_sa, &s, err, sizeof(err)) < 0) {
		vici_failed(c, "list charon's SAs", err);
		htab_free(&up);
		return;
	}
	while ((p = htab_next(&c->peers, &it))) {
		bool is_up = htab_get(&up, &p->subnet) != NULL;

		if (!p->loaded)
			continue;
		prefix_format(&p->subnet, a, sizeof(a));
		addr_format(&p->ip, b, sizeof(b));
		if (is_up && !p->established)
			log_notice("peer %s (%s): IKE SA ESTABLISHED, CHILD SA INSTALLED", a, b);
		else if (!is_up && p->established)
			log_warn("peer %s (%s): its SAs are gone; charon negotiates again", a, b);
		if (!is_up && !p->warned && now - p->since >= (int64_t)c->o->warn_secs) {
			log_warn("peer %s (%s): no IKE SA after %lld s: is charon running there, "
				 "UDP 500 and 4500 and ESP open between us, the PSK the same?", a,
				 b, (long long)(now - p->since));
			p->warned = true;
		}
		if (is_up)
			p->warned = false, p->since = now;
		p->established = is_up;
	}
	htab_free(&up);
}

static bool auth_failure(const char *msg)
{
	return strstr(msg, "AUTHENTICATION_FAILED") || strstr(msg, "MAC mismatched") ||
	       strstr(msg, "no shared key found");
}

/* charon's log events: an authentication failure names its peer. */
static void read_log(struct ctl *c)
{
	struct vici_msg m;
	char err[300], esc[LOG_ESC_MAX];
	int n = 0;

	while (c->logc.fd >= 0 && n++ < 1000) {
		int rc = vici_poll(&c->logc, &m, err, sizeof(err));
		const char *msg, *name;
		struct peer *p;
		char a[ADDR_STRLEN], b[ADDR_STRLEN];

		if (rc < 0)
			log_warn("follow charon's log: %s", err);
		if (rc <= 0)
			return;
		msg = vici_str(&m, -1, "msg");
		name = vici_str(&m, -1, "ikesa-name");
		if (m.type == VICI_EVENT && msg && auth_failure(msg)) {
			p = peer_by_conn(c, name);
			log_escape(msg, strlen(msg), esc, sizeof(esc));
			if (!p)
				log_err("IKE authentication failed with a peer: the PSKs differ "
					"(charon: %s)", esc);
			else if (mono() - p->auth_warned >= 30) {
				log_err("peer %s (%s): IKE authentication failed: its PSK and "
					"ours differ (charon: %s)",
					prefix_format(&p->subnet, a, sizeof(a)),
					addr_format(&p->ip, b, sizeof(b)), esc);
				p->auth_warned = mono();
			}
		}
		vici_msg_free(&m);
	}
}

static void supervise_charon(struct ctl *c)
{
	char err[4400];
	int status;

	if (c->o->vici)
		return;
	if (charon_exited(&c->ch, &status)) {
		log_err("charon exited (%s %d): starting it again",
			WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		forget_charon(c);
		c->restart_at = mono() + (c->restarts < 5 ? 1 << c->restarts : 60);
		c->restarts++;
	}
	if (c->ch.pid || mono() < c->restart_at)
		return;
	if (charon_start(&c->ch, err, sizeof(err)) < 0)
		log_err("%s", err);
}

static void tick(struct ctl *c)
{
	supervise_charon(c);
	if (c->in_snapshot)
		return;
	reconcile(c);
	check_policies(c);
	read_log(c);
	check_sas(c);
}

/* ---- events ---- */

/* A reqid of 76 in its top byte, stable for a subnet, unique among peers. */
static uint32_t pick_reqid(struct ctl *c, const struct prefix *s)
{
	uint32_t h = 2166136261u;
	struct peer *p;
	size_t it;

	for (int i = 0; i < 4; i++)
		h = (h ^ s->addr.b[i]) * 16777619u;
	h = (h ^ s->len) * 16777619u;
	for (uint32_t k = 0; k < 0xffffff; k++) {
		uint32_t r = XFRM_REQID_TAG << 24 | (((h + k) & 0xffffff) ?: 1);
		bool taken = false;

		it = 0;
		while (!taken && (p = htab_next(&c->peers, &it)))
			taken = p->reqid == r && !prefix_equal(&p->subnet, s);
		if (!taken)
			return r;
	}
	return XFRM_REQID_TAG << 24 | 1;
}

static void drop_peer(struct ctl *c, struct peer *p)
{
	unload_peer(c, p);
	uninstall(c, p);
}

static void on_self(struct ctl *c, const struct lease *l)
{
	struct prefix own = l->subnet;
	struct ipaddr ip = c->own_ip;
	struct peer *p;
	size_t it = 0;

	if (!own.addr.family)
		return;
	prefix_mask(&own);
	if (!c->o->public_ip && addr_is_set(&l->public_ip))
		ip = l->public_ip;
	if (c->own_known && prefix_equal(&own, &c->own) && addr_equal(&ip, &c->own_ip))
		return;
	while ((p = htab_next(&c->peers, &it)))
		drop_peer(c, p);
	c->own = own;
	c->own_ip = ip;
	c->own_known = true;
	it = 0;
	while ((p = htab_next(&c->peers, &it))) {
		struct ipsec_peer_conf pc;

		conf_of(c, p, &pc);
		ipsec_conn_name(&pc, p->conn, sizeof(p->conn));
	}
	c->dirty = true;
}

static void on_added(struct ctl *c, const struct event *ev)
{
	const struct lease *l = &ev->lease;
	char err[200], s[ADDR_STRLEN];
	struct ipsec_peer_conf pc;
	struct prefix key = { 0 };
	struct peer *p;
	bool created;

	if (!l->subnet.addr.family)
		return; /* IPv6 only: upstream's ipsec carries IPv4 */
	err[0] = '\0';
	if (strcmp(l->backend_type, "ipsec") != 0)
		snprintf(err, sizeof(err), "BackendType is \"%s\", not ipsec", l->backend_type);
	else if (subnet_check_remote(&l->subnet, c->own_known ? &c->own : NULL,
				     &c->network, err, sizeof(err)) == 0 &&
		 addr_is_unusable(&l->public_ip))
		snprintf(err, sizeof(err), "public IP %s is not usable",
			 addr_format(&l->public_ip, s, sizeof(s)));
	if (err[0]) {
		log_warn("skip lease %s: %s", prefix_format(&l->subnet, s, sizeof(s)), err);
		return;
	}
	key.addr = l->subnet.addr;
	key.len = l->subnet.len;
	prefix_mask(&key);
	p = htab_get(&c->peers, &key);
	if (p && addr_equal(&p->ip, &l->public_ip)) {
		p->gen = c->gen;
		return;
	}
	if (p)
		drop_peer(c, p); /* it moved: the old connection and policies go */
	else if (!(p = htab_put(&c->peers, &key, &created))) {
		log_err("remember lease %s: out of memory", prefix_format(&key, s, sizeof(s)));
		return;
	}
	p->ip = l->public_ip;
	p->gen = c->gen;
	p->reqid = pick_reqid(c, &key);
	p->loaded = p->installed = p->established = p->warned = false;
	conf_of(c, p, &pc);
	ipsec_conn_name(&pc, p->conn, sizeof(p->conn));
	c->dirty = true;
}

static void on_removed(struct ctl *c, const struct event *ev)
{
	struct prefix key = { 0 };
	struct peer *p;
	char s[ADDR_STRLEN];

	if (!ev->lease.subnet.addr.family)
		return;
	key.addr = ev->lease.subnet.addr;
	key.len = ev->lease.subnet.len;
	prefix_mask(&key);
	p = htab_get(&c->peers, &key);
	if (!p)
		return;
	log_info("peer %s: lease removed: its connection and policies go",
		 prefix_format(&key, s, sizeof(s)));
	drop_peer(c, p);
	htab_del(&c->peers, &key);
}

static bool stale(const void *rec, void *arg)
{
	return ((const struct peer *)rec)->gen != *(const uint32_t *)arg;
}

static void purge(struct ctl *c)
{
	struct peer *p;
	size_t it = 0;

	while ((p = htab_next(&c->peers, &it)))
		if (p->gen != c->gen)
			drop_peer(c, p);
	htab_del_if(&c->peers, stale, &c->gen);
}

static int on_event(void *arg, const struct event *ev)
{
	struct ctl *c = arg;

	switch (ev->type) {
	case EV_SNAPSHOT:
		c->gen++;
		c->in_snapshot = true;
		return 0;
	case EV_ADDED:
		if (ev->lease.self)
			on_self(c, &ev->lease);
		else
			on_added(c, ev);
		return 0;
	case EV_REMOVED:
		if (!ev->lease.self)
			on_removed(c, ev);
		return 0;
	case EV_SYNC:
		if (c->in_snapshot)
			purge(c);
		c->in_snapshot = false;
		reconcile(c);
		if (!c->synced) {
			c->synced = true;
			check_policies(c); /* stale policies of an earlier run go now */
			if (c->o->synced)
				c->o->synced(c->o->synced_arg);
		}
		return 0;
	default:
		return 0;
	}
}

static int on_idle(void *arg)
{
	struct ctl *c = arg;

	if (c->dirty && !c->in_snapshot)
		reconcile(c);
	return 0;
}

static int on_tick(void *arg)
{
	struct ctl *c = arg;
	uint64_t ticks;

	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -1;
	tick(c);
	return 0;
}

static int on_signal(void *arg, int sig)
{
	struct ctl *c = arg;

	if (sig == SIGTERM || sig == SIGINT) {
		log_info("stopping on signal %d: the policies stay (no clear text to peers)", sig);
		return 1;
	}
	if (sig == SIGHUP) {
		log_notice("SIGHUP: loading every connection and policy again");
		forget_charon(c);
		reconcile(c);
	}
	return 0;
}

/* ---- start ---- */

static int esp_check(struct nl *x)
{
	int rc = xfrm_esp_probe(x);

	if (rc == -EPROTONOSUPPORT) {
		log_err("use IPsec: this kernel has no ESP support (module esp4, "
			"CONFIG_INET_ESP): use another backend or another kernel");
		return EX_UNAVAILABLE;
	}
	if (rc < 0)
		log_warn("check this kernel for ESP: %s (going on)", nl_strerror(x, rc));
	return 0;
}

static int find_charon(const struct ipsec_opts *o, char *out, size_t len)
{
	if (o->vici)
		return 0;
	if (charon_find(o->charon, out, len) == 0)
		return 0;
	if (o->charon)
		log_err("run charon: %s is not an executable file", o->charon);
	else
		log_err("run charon: not found in PATH nor in /usr/lib/ipsec and the other "
			"usual places (Debian package strongswan-charon)");
	return EX_UNAVAILABLE;
}

static int open_xfrm(struct nl **x)
{
	*x = xfrm_open();
	if (*x)
		return 0;
	log_err("open an XFRM netlink socket: %s%s", strerror(errno),
		errno == EPROTONOSUPPORT ? " (this kernel has no CONFIG_XFRM_USER)" : "");
	return errno == EPERM || errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
}

int ipsec_run_init(const struct ipsec_opts *o)
{
	char path[4096];
	struct nl *x;
	int rc = open_xfrm(&x);

	if (rc)
		return rc;
	rc = esp_check(x);
	nl_close(x);
	return rc ? rc : find_charon(o, path, sizeof(path));
}

static int own_address(struct ctl *c)
{
	const struct ipsec_opts *o = c->o;
	struct iface ifc;
	int rc;

	if (o->public_ip) {
		if (addr_parse_family(o->public_ip, AF_INET, &c->own_ip) == 0)
			return 0;
		log_err("--public-ip %s: not an IPv4 address", o->public_ip);
		return EX_USAGE;
	}
	rc = o->iface ? iface_lookup(o->iface, AF_INET, &ifc) : iface_default(AF_INET, &ifc);
	if (rc < 0 || !ifc.addr.family) {
		log_err("find the underlay interface %s: no such interface or IPv4 address",
			o->iface ? o->iface : "of the default route");
		return EX_CONFIG;
	}
	c->own_ip = ifc.addr;
	return 0;
}

/* Ours, or the one at --vici; its socket within 10 s. */
static int start_charon(struct ctl *c)
{
	char err[4400];

	if (c->o->vici) {
		snprintf(c->vici, sizeof(c->vici), "%s", c->o->vici);
	} else {
		c->ch = (struct charon){ .run_dir = c->o->run_dir, .path = c->charon_path,
					 .self = c->o->self, .log_level = c->o->charon_log };
		if (charon_vici_path(c->o->run_dir, c->vici, sizeof(c->vici)) < 0) {
			log_err("--run-dir %s: too long", c->o->run_dir);
			return EX_USAGE;
		}
		unlink(c->vici);
		if (charon_start(&c->ch, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return EX_OSERR;
		}
	}
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		int status;

		if (vici_up(c))
			return 0;
		if (!c->o->vici && charon_exited(&c->ch, &status)) {
			log_err("charon exited at its start (%s %d): see its messages above",
				WIFSIGNALED(status) ? "signal" : "status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return EX_UNAVAILABLE;
		}
		nanosleep(&ts, NULL);
	}
	vici_connect(&c->vc, c->vici, err, sizeof(err));
	log_err("%s (after 10 s)", err);
	return EX_UNAVAILABLE;
}

static int start(struct ctl *c)
{
	const struct ipsec_opts *o = c->o;
	struct itimerspec its = { .it_interval = { o->check_secs, 0 },
				  .it_value = { o->check_secs, 0 } };
	struct subnet_env env;
	int rc;

	if ((rc = open_xfrm(&c->x)) != 0 || (!o->no_esp_check && (rc = esp_check(c->x)) != 0) ||
	    (rc = find_charon(o, c->charon_path, sizeof(c->charon_path))) != 0 ||
	    (rc = own_address(c)) != 0)
		return rc;
	if (env_read(o->subnet_file, &env) == 0 && env.subnet.addr.family == AF_INET) {
		c->own = env.subnet;
		prefix_mask(&c->own);
		c->own_known = true;
		c->network = env.network;
	} else if (o->subnet_file_given) {
		log_warn("read %s: %s (waiting for our lease in the events)", o->subnet_file,
			 strerror(errno));
	}
	if ((rc = start_charon(c)) != 0)
		return rc;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0) {
		log_err("set up a timer: %s", strerror(errno));
		return EX_OSERR;
	}
	return 0;
}

int ipsec_run_apply(const struct ipsec_opts *o)
{
	struct ctl c = { .o = o, .timer_fd = -1, .vc = { .fd = -1 }, .logc = { .fd = -1 } };
	struct event_sink s = { .event = on_event, .idle = on_idle, .signal = on_signal,
				.sigfd = o->sigfd, .extra = on_tick, .arg = &c };
	int rc;

	htab_init(&c.peers, sizeof(struct peer), sizeof(struct prefix));
	rc = start(&c);
	if (rc == 0) {
		s.extra_fd = c.timer_fd;
		rc = event_stream_run(STDIN_FILENO, &s);
	}
	if (c.timer_fd >= 0)
		close(c.timer_fd);
	vici_disconnect(&c.vc);
	vici_disconnect(&c.logc);
	charon_stop(&c.ch);
	htab_free(&c.peers);
	nl_close(c.x);
	return rc;
}
