/* ipsec_vici.c - the VICI requests of flannel-ipsec: upstream's shared key
 * and connection per peer (the same proposals and traffic selectors, so an
 * upstream host and ours agree), with lifetimes and a reqid of our own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipsec/ipsec.h"

#define TIMEOUT_MS 10000

int ipsec_conn_name(const struct ipsec_peer_conf *p, char *out, size_t len)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], c[ADDR_STRLEN], d[ADDR_STRLEN];
	int n = snprintf(out, len, "%s-%s-%s-%s", addr_format(&p->own_ip, a, sizeof(a)),
			 prefix_format(&p->own, b, sizeof(b)), prefix_format(&p->peer, c, sizeof(c)),
			 addr_format(&p->peer_ip, d, sizeof(d)));

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int ipsec_conn_parse(const char *name, struct ipsec_peer_conf *p)
{
	char part[4][64];
	const char *s = name;

	for (int i = 0; i < 4; i++) {
		size_t n = i < 3 ? strcspn(s, "-") : strlen(s);

		if (n == 0 || n >= sizeof(part[i]) || (i < 3 && s[n] != '-'))
			return -1;
		memcpy(part[i], s, n);
		part[i][n] = '\0';
		s += n + (i < 3);
	}
	*p = (struct ipsec_peer_conf){ 0 };
	if (addr_parse_family(part[0], AF_INET, &p->own_ip) < 0 ||
	    prefix_parse(part[1], &p->own) < 0 || prefix_parse(part[2], &p->peer) < 0 ||
	    addr_parse_family(part[3], AF_INET, &p->peer_ip) < 0 ||
	    p->own.addr.family != AF_INET || p->peer.addr.family != AF_INET)
		return -1;
	return 0;
}

/* Send w and check the answer's success. */
static int call(struct vici_conn *c, const char *cmd, struct vici_builder *w, char *err,
		size_t errlen)
{
	struct vici_msg m;
	char why[256];
	int rc = vici_call(c, cmd, w, NULL, NULL, NULL, &m, TIMEOUT_MS, err, errlen);

	vici_builder_free(w);
	if (rc < 0)
		return -1;
	if (!vici_success(&m, why, sizeof(why))) {
		snprintf(err, errlen, "charon refused %s: %s", cmd, why);
		rc = -1;
	}
	vici_msg_free(&m);
	return rc;
}

static void key_id(const struct ipaddr *peer, char *out, size_t len)
{
	char a[ADDR_STRLEN];

	snprintf(out, len, "flannel-%s", peer->family ? addr_format(peer, a, sizeof(a)) : "self");
}

int ipsec_load_key(struct vici_conn *c, const struct ipsec_opts *o, const struct ipaddr *own,
		   const struct ipaddr *peer, char *err, size_t errlen)
{
	struct vici_builder w;
	char id[80], a[ADDR_STRLEN];

	/* One key per peer under an id of ours: loading it again replaces it
	 * (upstream adds a copy at every lease renewal). */
	key_id(peer, id, sizeof(id));
	vici_begin(&w, VICI_CMD_REQUEST, "load-shared");
	vici_kv(&w, "id", id);
	vici_kv(&w, "type", "IKE");
	vici_kv(&w, "data", o->psk);
	vici_list(&w, "owners");
	vici_item(&w, addr_format(own, a, sizeof(a)));
	if (peer->family)
		vici_item(&w, addr_format(peer, a, sizeof(a)));
	vici_list_end(&w);
	return call(c, "load-shared", &w, err, errlen);
}

int ipsec_unload_key(struct vici_conn *c, const struct ipaddr *peer, char *err, size_t errlen)
{
	struct vici_builder w;
	char id[80];

	key_id(peer, id, sizeof(id));
	vici_begin(&w, VICI_CMD_REQUEST, "unload-shared");
	vici_kv(&w, "id", id);
	return call(c, "unload-shared", &w, err, errlen);
}

static void one_item(struct vici_builder *w, const char *list, const char *value)
{
	vici_list(w, list);
	vici_item(w, value);
	vici_list_end(w);
}

int ipsec_load_conn(struct vici_conn *c, const struct ipsec_opts *o,
		    const struct ipsec_peer_conf *p, char *err, size_t errlen)
{
	struct vici_builder w;
	char name[200], child[100], a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (ipsec_conn_name(p, name, sizeof(name)) < 0) {
		snprintf(err, errlen, "name the connection: too long");
		return -1;
	}
	snprintf(child, sizeof(child), "%s-%s", prefix_format(&p->own, a, sizeof(a)),
		 prefix_format(&p->peer, b, sizeof(b)));
	vici_begin(&w, VICI_CMD_REQUEST, "load-conn");
	vici_section(&w, name);
	one_item(&w, "local_addrs", addr_format(&p->own_ip, a, sizeof(a)));
	one_item(&w, "remote_addrs", addr_format(&p->peer_ip, a, sizeof(a)));
	one_item(&w, "proposals", IPSEC_IKE_PROPOSAL);
	vici_kv(&w, "version", "2");
	vici_kv(&w, "encap", o->udp_encap ? "yes" : "no");
	vici_kv(&w, "keyingtries", "0");
	/* Upstream sends rekey_time "": the IKE_SA is never rekeyed. */
	vici_kvf(&w, "rekey_time", "%us", o->ike_rekey);
	vici_kv(&w, "dpd_delay", "30s");
	vici_section(&w, "local");
	vici_kv(&w, "auth", "psk");
	vici_section_end(&w);
	vici_section(&w, "remote");
	vici_kv(&w, "auth", "psk");
	vici_section_end(&w);
	vici_section(&w, "children");
	vici_section(&w, child);
	one_item(&w, "local_ts", prefix_format(&p->own, a, sizeof(a)));
	one_item(&w, "remote_ts", prefix_format(&p->peer, a, sizeof(a)));
	one_item(&w, "esp_proposals", o->esp_proposal);
	vici_kv(&w, "mode", "tunnel");
	vici_kv(&w, "start_action", "start");
	vici_kv(&w, "close_action", "trap");
	vici_kv(&w, "dpd_action", "restart");
	vici_kvf(&w, "reqid", "%u", p->reqid);
	vici_kvf(&w, "rekey_time", "%us", o->child_rekey);
	/* The policies are ours (netlink); charon installs only the SAs. */
	vici_kv(&w, "policies", "no");
	vici_section_end(&w);
	vici_section_end(&w);
	vici_section_end(&w);
	return call(c, "load-conn", &w, err, errlen);
}

int ipsec_unload_conn(struct vici_conn *c, const char *name, char *err, size_t errlen)
{
	struct vici_builder w;

	vici_begin(&w, VICI_CMD_REQUEST, "unload-conn");
	vici_kv(&w, "name", name);
	return call(c, "unload-conn", &w, err, errlen);
}

static long num(const struct vici_msg *m, int parent, const char *key)
{
	const char *v = vici_str(m, parent, key);
	char *end;
	long n;

	if (!v || !v[0])
		return -1;
	n = strtol(v, &end, 10);
	return *end || n < 0 ? -1 : n;
}

static void copy(char *out, size_t len, const char *v)
{
	snprintf(out, len, "%s", v ? v : "");
}

struct sa_walk {
	ipsec_sa_fn fn;
	void *arg;
};

/* One list-sa event: { <ike name> { state, remote-host, rekey-time,
 * child-sas { <child> { state, reqid, rekey-time, bytes-in, ... } } } }. */
static int on_list_sa(void *arg, const struct vici_msg *m)
{
	struct sa_walk *wk = arg;

	for (size_t i = 0; i < m->count; i++) {
		struct ipsec_sa sa = { .ike_rekey = -1, .child_rekey = -1 };
		int ike = (int)i, kids;

		if (m->n[i].parent != -1 || m->n[i].kind != VICI_SECTION_START)
			continue;
		copy(sa.name, sizeof(sa.name), m->n[i].name);
		copy(sa.ike_state, sizeof(sa.ike_state), vici_str(m, ike, "state"));
		copy(sa.remote, sizeof(sa.remote), vici_str(m, ike, "remote-host"));
		sa.ike_rekey = num(m, ike, "rekey-time");
		kids = vici_find(m, ike, "child-sas");
		for (size_t j = 0; kids >= 0 && j < m->count; j++) {
			long v;

			if (m->n[j].parent != kids || m->n[j].kind != VICI_SECTION_START)
				continue;
			copy(sa.child_state, sizeof(sa.child_state), vici_str(m, (int)j, "state"));
			sa.child_rekey = num(m, (int)j, "rekey-time");
			v = num(m, (int)j, "reqid");
			sa.reqid = v < 0 ? 0 : (unsigned long)v;
			v = num(m, (int)j, "bytes-in");
			sa.bytes_in = v < 0 ? 0 : (unsigned long long)v;
			v = num(m, (int)j, "bytes-out");
			sa.bytes_out = v < 0 ? 0 : (unsigned long long)v;
			/* The installed one, when a rekeying left two. */
			if (strcmp(sa.child_state, "INSTALLED") == 0)
				break;
		}
		if (wk->fn(wk->arg, &sa) < 0)
			return -1;
	}
	return 0;
}

int ipsec_list_sas(struct vici_conn *c, ipsec_sa_fn fn, void *arg, char *err, size_t errlen)
{
	struct sa_walk wk = { fn, arg };
	struct vici_msg m;
	int rc = vici_call(c, "list-sas", NULL, "list-sa", on_list_sa, &wk, &m, TIMEOUT_MS, err,
			   errlen);

	vici_msg_free(&m);
	return rc;
}

struct conn_walk {
	ipsec_conn_fn fn;
	void *arg;
};

static int on_list_conn(void *arg, const struct vici_msg *m)
{
	struct conn_walk *wk = arg;

	for (size_t i = 0; i < m->count; i++)
		if (m->n[i].parent == -1 && m->n[i].kind == VICI_SECTION_START &&
		    wk->fn(wk->arg, m->n[i].name) < 0)
			return -1;
	return 0;
}

int ipsec_list_conns(struct vici_conn *c, ipsec_conn_fn fn, void *arg, char *err, size_t errlen)
{
	struct conn_walk wk = { fn, arg };
	struct vici_msg m;
	int rc = vici_call(c, "list-conns", NULL, "list-conn", on_list_conn, &wk, &m, TIMEOUT_MS,
			   err, errlen);

	vici_msg_free(&m);
	return rc;
}
