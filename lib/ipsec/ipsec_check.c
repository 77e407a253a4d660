/* ipsec_check.c - flannel-ipsec apply's periodic checks: our policies
 * against what the leases want (restored, stale ones purged), charon's SAs
 * (peers that come up, go down or never come up), charon's log (an
 * authentication failure named with its peer and cause). */
#include <linux/xfrm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "ipsec/ipsec_ctl.h"

struct pol_set {
	struct xfrm_pol *v;
	size_t n, cap;
};

int64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void policies_of(const struct ctl *c, const struct peer *p, struct xfrm_pol pol[3])
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

bool same_policy(const struct xfrm_pol *a, const struct xfrm_pol *b)
{
	return a->dir == b->dir && prefix_equal(&a->src, &b->src) &&
	       prefix_equal(&a->dst, &b->dst) && addr_equal(&a->tsrc, &b->tsrc) &&
	       addr_equal(&a->tdst, &b->tdst) && a->reqid == b->reqid;
}

const char *pol_text(const struct xfrm_pol *p, char *buf, size_t len)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], d[ADDR_STRLEN], e[ADDR_STRLEN];

	snprintf(buf, len, "%s %s -> %s via %s -> %s reqid %u", dir_name(p->dir),
		 prefix_format(&p->src, a, sizeof(a)), prefix_format(&p->dst, b, sizeof(b)),
		 addr_format(&p->tsrc, d, sizeof(d)), addr_format(&p->tdst, e, sizeof(e)),
		 p->reqid);
	return buf;
}

void forget_charon(struct ctl *c)
{
	struct peer *p;
	size_t it = 0;

	vici_disconnect(&c->vc);
	vici_disconnect(&c->logc);
	c->key_loaded = false;
	while ((p = htab_next(&c->peers, &it)))
		p->loaded = p->established = false;
}

void vici_failed(struct ctl *c, const char *what, const char *err)
{
	log_err("%s: %s", what, err);
	if (c->vc.fd < 0)
		forget_charon(c); /* reconnect and load everything again */
}

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

void check_policies(struct ctl *c)
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

void check_sas(struct ctl *c)
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
		if (is_up && !p->established)
			state_installed(c->state, &p->subnet);
		else if (!is_up && (p->established || p->warned))
			state_refused(c->state, &p->subnet, p->warned ?
				      "no IKE SA with it (charon negotiates)" :
				      "its SAs are gone (charon negotiates again)");
		p->established = is_up;
	}
	htab_free(&up);
}

static bool auth_failure(const char *msg)
{
	return strstr(msg, "AUTHENTICATION_FAILED") || strstr(msg, "MAC mismatched") ||
	       strstr(msg, "no shared key found");
}

void read_log(struct ctl *c)
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

struct stale_conns {
	const struct ctl *c;
	char (*names)[200];
	struct ipaddr *ips;
	size_t n, cap;
	bool nomem;
};

static bool peer_has(const struct ctl *c, const char *conn, const struct ipaddr *ip)
{
	const struct peer *p;
	size_t it = 0;

	while ((p = htab_next(&c->peers, &it)))
		if (conn ? strcmp(p->conn, conn) == 0 : addr_equal(&p->ip, ip))
			return true;
	return false;
}

/* Names of ours (ipsec_conn_name's shape) that no peer has now. */
static int collect_stale(void *arg, const char *name)
{
	struct stale_conns *s = arg;
	struct ipsec_peer_conf pc;

	if (ipsec_conn_parse(name, &pc) < 0 || strlen(name) >= sizeof(s->names[0]) ||
	    peer_has(s->c, name, NULL))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char (*names)[200] = fl_realloc(s->names, cap * sizeof(*names));
		struct ipaddr *ips = names ? fl_realloc(s->ips, cap * sizeof(*ips)) : NULL;

		if (names)
			s->names = names;
		if (!ips) {
			s->nomem = true;
			return 0;
		}
		s->ips = ips;
		s->cap = cap;
	}
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->ips[s->n++] = pc.peer_ip;
	return 0;
}

void unload_stale_conns(struct ctl *c)
{
	struct stale_conns s = { .c = c };
	char err[400];

	if (ipsec_list_conns(&c->vc, collect_stale, &s, err, sizeof(err)) < 0) {
		vici_failed(c, "list charon's connections", err);
		goto out;
	}
	if (s.nomem)
		log_err("list charon's stale connections: out of memory (some stay loaded)");
	for (size_t i = 0; i < s.n && c->vc.fd >= 0; i++) {
		log_info("connection %s: no lease wants it (loaded by an earlier run): unloading it",
			 s.names[i]);
		if (ipsec_unload_conn(&c->vc, s.names[i], err, sizeof(err)) < 0)
			log_warn("unload the connection %s: %s", s.names[i], err);
		else if (!peer_has(c, NULL, &s.ips[i]) &&
			 ipsec_unload_key(&c->vc, &s.ips[i], err, sizeof(err)) < 0)
			log_warn("unload the PSK of %s: %s", s.names[i], err);
	}
	c->stale_swept = true;
out:
	free(s.names);
	free(s.ips);
}
