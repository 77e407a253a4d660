/* srv_api.c - the /v1 routes of upstream's client/server mode over the
 * etcd store: the same keys and values an etcd-mode host writes.  Every
 * input is checked before anything is written; a refusal is a 4xx with the
 * reason as plain text (upstream's shape). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/timefmt.h"
#include "etcd/acquire.h"
#include "etcd/etcd.h"
#include "model/config.h"
#include "model/lease.h"
#include "server/srv_conn.h"

#define JSON_CT "application/json; charset=utf-8"

/* Go's zero time: a reservation, or an expiry not looked up. */
static const char *exp_text(time_t t, char *buf, size_t len)
{
	return t ? time_format_utc(t, buf, len) : "0001-01-01T00:00:00Z";
}

/* The JSON text of o with Go's newline, o released; NULL when out of memory. */
static char *json_text(json_t *o, size_t *len)
{
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL, *t;
	size_t n;

	json_decref(o);
	if (!text)
		return NULL;
	/* Go's json.Encoder ends every value with a newline. */
	n = strlen(text);
	t = realloc(text, n + 2);
	if (!t) {
		free(text);
		return NULL;
	}
	t[n++] = '\n';
	t[n] = '\0';
	*len = n;
	return t;
}

static void reply_json(struct srv *s, struct conn *c, json_t *o)
{
	size_t n = 0;
	char *text = json_text(o, &n);

	if (!text) {
		srv_reply_text(s, c, 500, "out of memory");
		return;
	}
	srv_reply(s, c, 200, JSON_CT, text, n);
	free(text);
}

static int etcd_status(int rc)
{
	return rc == ETCD_ERR_UNAVAILABLE ? 503 : 500;
}

/* The JSON of one lease: {"Subnet","Attrs","Expiration"} as upstream, and
 * ours: IPv6Subnet, LeaseID, ModRevision (an old client ignores them).  NULL
 * when the value is not a JSON object (such a lease is not passed on). */
static json_t *lease_obj(const struct prefix *v4, const struct prefix *v6, const char *val,
			 size_t vlen, int64_t lease, int64_t modrev, time_t exp)
{
	char a[ADDR_STRLEN], t[64], id[32], mr[32];
	json_t *attrs = val ? json_loadb(val, vlen, JSON_REJECT_DUPLICATES, NULL) : json_object();
	json_t *o;

	if (!attrs || !json_is_object(attrs)) {
		json_decref(attrs);
		return NULL;
	}
	snprintf(id, sizeof(id), "%lld", (long long)lease);
	snprintf(mr, sizeof(mr), "%lld", (long long)modrev);
	o = json_object();
	if (!o || (addr_is_set(&v4->addr) &&
		   json_object_set_new(o, "Subnet", json_string(prefix_format(v4, a, sizeof(a))))) ||
	    (addr_is_set(&v6->addr) &&
	     json_object_set_new(o, "IPv6Subnet", json_string(prefix_format(v6, a, sizeof(a))))) ||
	    json_object_set_new(o, "Attrs", attrs) ||
	    json_object_set_new(o, "Expiration", json_string(exp_text(exp, t, sizeof(t)))) ||
	    json_object_set_new(o, "LeaseID", json_string(id)) ||
	    json_object_set_new(o, "ModRevision", json_string(mr))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool net_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 63 || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* "_" is the default network at the prefix; NAME is <prefix>/NAME. */
static int net_prefix(struct srv *s, struct conn *c, const char *net)
{
	if (!net_name_ok(net)) {
		srv_reply_text(s, c, 400, "bad network name");
		return -1;
	}
	snprintf(c->net, sizeof(c->net), "%s", net);
	if ((strcmp(net, "_") == 0 ? snprintf(c->prefix, sizeof(c->prefix), "%s", s->prefix) :
				     snprintf(c->prefix, sizeof(c->prefix), "%s/%s", s->prefix, net)) >=
	    (int)sizeof(c->prefix)) {
		srv_reply_text(s, c, 400, "network name too long for the prefix");
		return -1;
	}
	return 0;
}

static int read_config(struct srv *s, struct conn *c, struct net_config *cfg)
{
	char key[600], why[512];
	struct etcd_kv kv;
	int rc;

	snprintf(key, sizeof(key), "%s/config", c->prefix);
	rc = etcd_get(s->e, key, &kv, NULL);
	if (rc == ETCD_NOTFOUND) {
		srv_reply_text(s, c, 404, "network %s has no config", c->net);
		return -1;
	}
	if (rc != ETCD_OK) {
		srv_reply_text(s, c, etcd_status(rc), "read config: %s", etcd_error(s->e));
		return -1;
	}
	config_init(cfg);
	rc = config_parse(kv.value, kv.value_len, cfg, why, sizeof(why));
	etcd_kv_clear(&kv);
	if (rc < 0) {
		config_clear(cfg);
		srv_reply_text(s, c, 500, "config of network %s: %s", c->net, why);
		return -1;
	}
	return 0;
}

static void get_config(struct srv *s, struct conn *c)
{
	char key[600], why[512];
	struct net_config cfg;
	struct etcd_kv kv;
	int rc;

	snprintf(key, sizeof(key), "%s/config", c->prefix);
	rc = etcd_get(s->e, key, &kv, NULL);
	if (rc == ETCD_NOTFOUND) {
		srv_reply_text(s, c, 404, "network %s has no config", c->net);
		return;
	}
	if (rc != ETCD_OK) {
		srv_reply_text(s, c, etcd_status(rc), "read config: %s", etcd_error(s->e));
		return;
	}
	/* Checked here, re-parsed by the client (its defaults apply again). */
	config_init(&cfg);
	rc = config_parse(kv.value, kv.value_len, &cfg, why, sizeof(why));
	config_clear(&cfg);
	if (rc < 0)
		srv_reply_text(s, c, 500, "config of network %s: %s", c->net, why);
	else
		srv_reply(s, c, 200, JSON_CT, kv.value, kv.value_len);
	etcd_kv_clear(&kv);
}

/* What the server can check of a client's PublicIP: that it is the address
 * the connection comes from (for the connection's family). */
static int owns(struct srv *s, struct conn *c, const struct lease *l, const char *what)
{
	const struct ipaddr *ip;
	char a[ADDR_STRLEN];

	if (s->o->trust_public_ip || !c->peer.family)
		return 0;
	ip = c->peer.family == AF_INET ? &l->public_ip : &l->public_ip6;
	if (addr_is_set(ip) && addr_equal(ip, &c->peer))
		return 0;
	srv_reply_text(s, c, 403, "%s %s: not the address this request comes from (%s)", what,
		       addr_is_set(ip) ? addr_format(ip, a, sizeof(a)) : "(none)", c->peer_s);
	return -1;
}

/* LeaseAttrs from a client: parsed and checked as a lease value from etcd. */
static int parse_attrs(struct srv *s, struct conn *c, const char *text, size_t len,
		       struct lease *l)
{
	char why[256];

	if (len > LEASE_VALUE_MAX || lease_parse_value(l, text, len, why, sizeof(why)) < 0) {
		srv_reply_text(s, c, 400, "JSON decoding error: %s",
			       len > LEASE_VALUE_MAX ? "too long" : why);
		return -1;
	}
	if (addr_is_set(&l->public_ip) && addr_is_unusable(&l->public_ip)) {
		srv_reply_text(s, c, 400, "PublicIP is not a usable unicast address");
		return -1;
	}
	if (addr_is_set(&l->public_ip6) && addr_is_unusable(&l->public_ip6)) {
		srv_reply_text(s, c, 400, "PublicIPv6 is not a usable unicast address");
		return -1;
	}
	if (!addr_is_set(&l->public_ip) && !addr_is_set(&l->public_ip6)) {
		srv_reply_text(s, c, 400, "PublicIP is missing");
		return -1;
	}
	if (l->backend_data && !json_is_object(l->backend_data)) {
		srv_reply_text(s, c, 400, "BackendData is not an object");
		return -1;
	}
	return owns(s, c, l, "PublicIP");
}

static void acquire(struct srv *s, struct conn *c)
{
	struct net_config cfg;
	struct lease want, got;
	char key[KEY_STRLEN];
	int64_t rev = 0;
	int rc;

	lease_init(&want);
	lease_init(&got);
	if (parse_attrs(s, c, c->req.body ? c->req.body : "", c->req.body_len, &want) < 0)
		goto out;
	if (read_config(s, c, &cfg) < 0)
		goto out;
	if (cfg.enable_ipv4 && !addr_is_set(&want.public_ip)) {
		srv_reply_text(s, c, 400, "PublicIP is missing (network %s is IPv4)", c->net);
	} else {
		struct acquire a = { .e = s->e, .prefix = c->prefix, .cfg = &cfg, .want = &want,
				     .ttl = s->o->ttl_s };

		rc = acquire_lease(&a, &got, key, sizeof(key), &rev);
		/* 409: the network's state refuses it (an old client reads any non-200). */
		if (rc == ACQUIRE_FULL)
			srv_reply_text(s, c, 409, "%s", a.err);
		else if (rc != ETCD_OK)
			srv_reply_text(s, c, etcd_status(rc), "acquire: %s", a.err);
		else {
			char *val = lease_format_value(&got);

			log_info("lease %s for %s in network %s (%s)", key, c->peer_s, c->net, a.note);
			/* A lease reused unchanged keeps the revision it had. */
			reply_json(s, c, val ? lease_obj(&got.subnet, &got.subnet6, val, strlen(val),
							 got.lease_id, rev ? rev : got.mod_revision,
							 got.expiration) : NULL);
			free(val);
		}
	}
	config_clear(&cfg);
out:
	lease_clear(&want);
	lease_clear(&got);
}

/* A lease key from the URI: "a.b.c.d-LEN" (and "&V6-LEN"). */
static int parse_key(struct srv *s, struct conn *c, const char *leaf, struct prefix *v4,
		     struct prefix *v6, char *full, size_t fulllen)
{
	if (subnet_key_parse_n(leaf, strlen(leaf), v4, v6) < 0) {
		srv_reply_text(s, c, 400, "bad subnet");
		return -1;
	}
	snprintf(c->leaf, sizeof(c->leaf), "%s", leaf);
	if (acquire_key(c->prefix, leaf, full, fulllen) < 0) {
		srv_reply_text(s, c, 400, "bad subnet");
		return -1;
	}
	return 0;
}

/* The stored lease at full, and that the client is its holder. */
static int held(struct srv *s, struct conn *c, const char *full, const struct lease *claim,
		struct etcd_kv *kv)
{
	char why[256], a[ADDR_STRLEN];
	struct lease cur;
	int rc = etcd_get(s->e, full, kv, NULL);

	if (rc == ETCD_NOTFOUND) {
		srv_reply_text(s, c, 404, "lease %s not found", c->leaf);
		return -1;
	}
	if (rc != ETCD_OK) {
		srv_reply_text(s, c, etcd_status(rc), "read lease: %s", etcd_error(s->e));
		return -1;
	}
	lease_init(&cur);
	rc = lease_parse_value(&cur, kv->value, kv->value_len, why, sizeof(why));
	if (rc == 0 && claim && !addr_equal(&cur.public_ip, &claim->public_ip))
		rc = 1;
	if (rc == 0 && !claim && owns(s, c, &cur, "lease of") < 0)
		rc = 2;
	if (rc == 1)
		srv_reply_text(s, c, 403, "lease %s belongs to %s", c->leaf,
			       addr_format(&cur.public_ip, a, sizeof(a)));
	else if (rc < 0)
		srv_reply_text(s, c, 409, "lease %s holds a value that is not a lease", c->leaf);
	lease_clear(&cur);
	if (rc)
		etcd_kv_clear(kv);
	return rc ? -1 : 0;
}

static void renew(struct srv *s, struct conn *c, const char *leaf)
{
	struct prefix v4, v6, b4;
	char full[600], *text = NULL, *val = NULL;
	json_t *root = NULL, *sub, *attrs;
	struct lease l;
	struct etcd_kv kv = { 0 };
	int64_t ttl = 0;
	int rc;

	lease_init(&l);
	if (parse_key(s, c, leaf, &v4, &v6, full, sizeof(full)) < 0)
		goto out;
	root = json_loadb(c->req.body ? c->req.body : "", c->req.body_len, JSON_REJECT_DUPLICATES,
			  NULL);
	attrs = json_object_get(root, "Attrs");
	sub = json_object_get(root, "Subnet");
	if (!json_is_object(root) || !json_is_object(attrs) ||
	    !(text = json_dumps(attrs, JSON_COMPACT))) {
		srv_reply_text(s, c, 400, "JSON decoding error: not a lease");
		goto out;
	}
	if (addr_is_set(&v4.addr) &&
	    (!json_is_string(sub) || prefix_parse(json_string_value(sub), &b4) < 0 ||
	     !prefix_equal(&b4, &v4))) {
		srv_reply_text(s, c, 400, "Subnet does not match the lease key %s", leaf);
		goto out;
	}
	if (parse_attrs(s, c, text, strlen(text), &l) < 0 || held(s, c, full, &l, &kv) < 0)
		goto out;
	l.subnet = v4;
	l.subnet6 = v6;
	if (kv.lease) {
		rc = etcd_lease_keepalive(s->e, kv.lease, &ttl);
		if (rc == ETCD_NOTFOUND) {
			srv_reply_text(s, c, 404, "lease %s expired", leaf);
			goto out;
		}
		if (rc != ETCD_OK) {
			srv_reply_text(s, c, etcd_status(rc), "renew: %s", etcd_error(s->e));
			goto out;
		}
	}
	/* As upstream's renew: the attributes sent are the lease's now. */
	val = lease_format_value(&l);
	if (val && (strlen(val) != kv.value_len || memcmp(val, kv.value, kv.value_len) != 0)) {
		rc = etcd_put(s->e, full, val, kv.lease, NULL);
		if (rc != ETCD_OK) {
			srv_reply_text(s, c, etcd_status(rc), "renew: %s", etcd_error(s->e));
			goto out;
		}
	}
	reply_json(s, c, val ? lease_obj(&v4, &v6, val, strlen(val), kv.lease, kv.mod_revision,
					 kv.lease ? time(NULL) + ttl : 0) : NULL);
out:
	free(val);
	free(text);
	json_decref(root);
	etcd_kv_clear(&kv);
	lease_clear(&l);
}

static void revoke(struct srv *s, struct conn *c, const char *leaf, bool reservation)
{
	struct prefix v4, v6;
	char full[600];
	struct etcd_kv kv = { 0 };
	int rc;

	if (parse_key(s, c, leaf, &v4, &v6, full, sizeof(full)) < 0)
		return;
	/* A reservation is the operator's; a lease its holder's. */
	if (reservation) {
		rc = etcd_get(s->e, full, &kv, NULL);
		if (rc != ETCD_OK) {
			srv_reply_text(s, c, rc == ETCD_NOTFOUND ? 404 : etcd_status(rc), "%s",
				       rc == ETCD_NOTFOUND ? "reservation not found" : etcd_error(s->e));
			return;
		}
		if (kv.lease) {
			srv_reply_text(s, c, 409, "%s is a lease, not a reservation", leaf);
			etcd_kv_clear(&kv);
			return;
		}
	} else if (held(s, c, full, NULL, &kv) < 0) {
		return;
	}
	rc = etcd_delete(s->e, full, NULL);
	if (rc == ETCD_OK && kv.lease)
		etcd_lease_revoke(s->e, kv.lease);
	etcd_kv_clear(&kv);
	if (rc != ETCD_OK)
		srv_reply_text(s, c, etcd_status(rc), "revoke: %s", etcd_error(s->e));
	else
		srv_reply(s, c, 200, "text/plain; charset=utf-8", "", 0);
}

struct list {
	json_t *arr;
	size_t dir_len;
	bool reservations;
	int bad;
};

static int list_kv(void *arg, const struct etcd_kv *kv)
{
	struct list *l = arg;
	struct prefix v4, v6;
	json_t *o;

	if (kv->key_len <= l->dir_len ||
	    subnet_key_parse_n(kv->key + l->dir_len, kv->key_len - l->dir_len, &v4, &v6) < 0)
		return 0;
	if (l->reservations) {
		struct lease x;
		char why[128], a[ADDR_STRLEN], p[ADDR_STRLEN];

		if (kv->lease)
			return 0;
		lease_init(&x);
		if (lease_parse_value(&x, kv->value, kv->value_len, why, sizeof(why)) == 0) {
			o = json_pack("{s:s,s:s}", "Subnet", prefix_format(&v4, p, sizeof(p)),
				      "PublicIP", addr_format(&x.public_ip, a, sizeof(a)));
			if (!o || json_array_append_new(l->arr, o))
				l->bad = 1;
		}
		lease_clear(&x);
		return l->bad;
	}
	o = lease_obj(&v4, &v6, kv->value, kv->value_len, kv->lease, kv->mod_revision, 0);
	if (o && json_array_append_new(l->arr, o))
		l->bad = 1;
	return l->bad;
}

static json_t *watch_result(json_t *events, json_t *snapshot, int64_t cursor)
{
	char cur[32];

	snprintf(cur, sizeof(cur), "%lld", (long long)cursor);
	return json_pack("{s:o,s:o,s:s}", "events", events ? events : json_null(), "snapshot",
			 snapshot ? snapshot : json_null(), "cursor", cur);
}

static struct snap_cache *snap_find(struct srv *s, const char *prefix)
{
	for (int i = 0; i < SNAP_CACHE; i++)
		if (s->snaps[i].body && strcmp(s->snaps[i].prefix, prefix) == 0)
			return &s->snaps[i];
	return NULL;
}

/* Reply with the snapshot, and keep it for the next ones. */
static void snap_reply(struct srv *s, struct conn *c, json_t *o, int64_t rev)
{
	struct snap_cache *k = snap_find(s, c->prefix);
	size_t n = 0;
	char *text = json_text(o, &n);

	if (!text) {
		srv_reply_text(s, c, 500, "out of memory");
		return;
	}
	srv_reply(s, c, 200, JSON_CT, text, n);
	if (!k) {
		k = &s->snaps[s->snap_next++ % SNAP_CACHE];
		snprintf(k->prefix, sizeof(k->prefix), "%s", c->prefix);
	}
	free(k->body);
	k->body = text;
	k->len = n;
	k->rev = rev;
}

void api_free(struct srv *s)
{
	for (int i = 0; i < SNAP_CACHE; i++)
		free(s->snaps[i].body);
}

/* Every lease of the network, at one revision: its cursor. */
static void snapshot(struct srv *s, struct conn *c, bool reservations)
{
	struct list l = { .arr = json_array(), .reservations = reservations };
	struct snap_cache *k = reservations ? NULL : snap_find(s, c->prefix);
	char dir[600], *end;
	int64_t rev = 0;
	int rc;

	/* Nothing changed under the prefix since it was read: still the state. */
	if (k && ring_head(&s->ring) <= k->rev) {
		json_decref(l.arr);
		srv_reply(s, c, 200, JSON_CT, k->body, k->len);
		return;
	}

	if (!l.arr || acquire_key(c->prefix, "", dir, sizeof(dir)) < 0 ||
	    !(end = etcd_prefix_end(dir))) {
		json_decref(l.arr);
		srv_reply_text(s, c, 500, "out of memory");
		return;
	}
	l.dir_len = strlen(dir);
	rc = etcd_range_all(s->e, dir, end, 500, list_kv, &l, &rev);
	free(end);
	if (rc != ETCD_OK || l.bad) {
		json_decref(l.arr);
		srv_reply_text(s, c, l.bad ? 500 : etcd_status(rc), "read leases: %s",
			       l.bad ? "out of memory" : etcd_error(s->e));
		return;
	}
	if (reservations)
		reply_json(s, c, l.arr);
	else
		snap_reply(s, c, watch_result(NULL, l.arr, rev), rev);
}

static void snapshot_one(struct srv *s, struct conn *c)
{
	json_t *arr = json_array(), *o;
	struct prefix v4, v6;
	char full[600];
	struct etcd_kv kv;
	int64_t rev = 0, ttl = 0;
	int rc;

	subnet_key_parse_n(c->leaf, strlen(c->leaf), &v4, &v6);
	acquire_key(c->prefix, c->leaf, full, sizeof(full));
	rc = etcd_get(s->e, full, &kv, &rev);
	if (rc != ETCD_OK && rc != ETCD_NOTFOUND) {
		json_decref(arr);
		srv_reply_text(s, c, etcd_status(rc), "read lease: %s", etcd_error(s->e));
		return;
	}
	if (rc == ETCD_OK) {
		if (kv.lease && etcd_lease_ttl(s->e, kv.lease, &ttl) != ETCD_OK)
			ttl = 0;
		o = lease_obj(&v4, &v6, kv.value, kv.value_len, kv.lease, kv.mod_revision,
			      ttl > 0 ? time(NULL) + ttl : 0);
		if (o)
			json_array_append_new(arr, o);
		etcd_kv_clear(&kv);
	}
	reply_json(s, c, arr ? watch_result(NULL, arr, rev) : NULL);
}

static void networks_snapshot(struct srv *s, struct conn *c);

/* The changes after the cursor that concern this poll, as upstream's events. */
struct collect {
	struct conn *c;
	json_t *events;
	size_t plen;
};

static void collect_ev(void *arg, const struct ring_ev *ev)
{
	struct collect *k = arg;
	struct conn *c = k->c;
	struct prefix v4, v6;
	const char *leaf, *val;
	size_t llen, vlen;
	json_t *o, *lease;

	if (ev->key_len <= k->plen || memcmp(ev->key, c->prefix, k->plen) != 0)
		return;
	if (c->wkind == W_NETWORKS) {
		/* <prefix>/NAME/config */
		const char *name = ev->key + k->plen, *slash;
		char nm[64];

		if (*name != '/' || !(slash = strchr(name + 1, '/')) || strcmp(slash, "/config") ||
		    (size_t)(slash - name - 1) >= sizeof(nm))
			return;
		snprintf(nm, sizeof(nm), "%.*s", (int)(slash - name - 1), name + 1);
		if (!net_name_ok(nm))
			return;
		o = json_pack("{s:s,s:{s:s,s:{}},s:s}", "type", ev->del ? "removed" : "added",
			      "lease", "Subnet", "0.0.0.0/0", "Attrs", "network", nm);
		if (o)
			json_array_append_new(k->events, o);
		return;
	}
	if (strncmp(ev->key + k->plen, "/subnets/", 9) != 0)
		return;
	leaf = ev->key + k->plen + 9;
	llen = ev->key_len - k->plen - 9;
	if (subnet_key_parse_n(leaf, llen, &v4, &v6) < 0)
		return;
	if (c->wkind == W_LEASE && (strlen(c->leaf) != llen || memcmp(c->leaf, leaf, llen)))
		return;
	val = ev->del ? ev->prev : ev->val;
	vlen = ev->del ? ev->prev_len : ev->val_len;
	lease = lease_obj(&v4, &v6, val, vlen, ev->lease, ev->rev, 0);
	if (!lease && ev->del) /* what it held is unknown: the subnet is enough */
		lease = lease_obj(&v4, &v6, NULL, 0, 0, ev->rev, 0);
	if (!lease)
		return;
	o = json_pack("{s:s,s:o}", "type", ev->del ? "removed" : "added", "lease", lease);
	if (o)
		json_array_append_new(k->events, o);
}

/* A cursor older than the ring, for one lease: when the key is still there
 * and unchanged since the cursor, nothing was missed up to now; move the
 * cursor to now.  A deleted key is not known that way (a snapshot says it). */
static bool one_unchanged(struct srv *s, struct conn *c)
{
	char full[600];
	struct etcd_kv kv;
	int64_t rev = 0;
	bool same;

	if (acquire_key(c->prefix, c->leaf, full, sizeof(full)) < 0 ||
	    etcd_get(s->e, full, &kv, &rev) != ETCD_OK)
		return false;
	same = kv.mod_revision <= c->cursor;
	etcd_kv_clear(&kv);
	if (same)
		c->cursor = rev;
	return same;
}

/* Answer from the ring if it has something for c; 1 answered, 0 nothing yet. */
static int from_ring(struct srv *s, struct conn *c)
{
	struct collect k = { .c = c, .events = json_array(), .plen = strlen(c->prefix) };
	int64_t head = 0;
	int n;

	if (!k.events) {
		srv_reply_text(s, c, 500, "out of memory");
		return 1;
	}
	n = ring_since(&s->ring, c->cursor, collect_ev, &k, &head);
	if (n < 0 && c->wkind == W_LEASE && one_unchanged(s, c)) {
		/* The lease is as it was at the cursor: the ring has the rest. */
		n = ring_since(&s->ring, c->cursor, collect_ev, &k, &head);
	}
	if (n < 0) {
		/* Older than what the ring holds: a snapshot, as upstream after "index cleared". */
		json_decref(k.events);
		log_info("cursor %lld of %s is too old: answering with a snapshot",
			 (long long)c->cursor, c->peer_s);
		if (c->wkind == W_LEASES)
			snapshot(s, c, false);
		else if (c->wkind == W_LEASE)
			snapshot_one(s, c);
		else
			networks_snapshot(s, c);
		return 1;
	}
	if (json_array_size(k.events) == 0) {
		json_decref(k.events);
		/* Nothing of ours before head: look only after it next time. */
		if (head > c->cursor)
			c->cursor = head;
		return 0;
	}
	reply_json(s, c, watch_result(k.events, NULL, head > c->cursor ? head : c->cursor));
	return 1;
}

static void watch(struct srv *s, struct conn *c, enum watch_kind kind)
{
	char next[32], *end;
	long long cur;
	int q = srv_query_get(c->req.query, "next", next, sizeof(next));

	c->wkind = kind;
	if (q == 0) {
		if (kind == W_LEASES)
			snapshot(s, c, false);
		else if (kind == W_LEASE)
			snapshot_one(s, c);
		else
			networks_snapshot(s, c);
		return;
	}
	errno = 0;
	cur = q > 0 ? strtoll(next, &end, 10) : -1;
	if (q < 0 || errno || end == next || *end || cur < 0) {
		srv_reply_text(s, c, 400, "next is not a cursor (a decimal revision)");
		return;
	}
	c->cursor = cur;
	if (from_ring(s, c))
		return;
	if (s->n_parked >= s->o->max_watches) {
		srv_reply_text(s, c, 429, "too many watches (at most %u)", s->o->max_watches);
		return;
	}
	c->state = C_PARKED;
	s->n_parked++;
}

void api_wake(struct srv *s, struct conn *c)
{
	from_ring(s, c);
}

struct netlist {
	json_t *arr;
	size_t plen;
};

static int net_kv(void *arg, const struct etcd_kv *kv)
{
	struct netlist *l = arg;
	const char *name = kv->key + l->plen;
	size_t n = kv->key_len - l->plen;
	char nm[64];

	/* NAME/config */
	if (n <= 7 || memcmp(name + n - 7, "/config", 7) != 0 || n - 7 >= sizeof(nm))
		return 0;
	memcpy(nm, name, n - 7);
	nm[n - 7] = '\0';
	if (net_name_ok(nm))
		json_array_append_new(l->arr, json_string(nm));
	return 0;
}

static void networks_snapshot(struct srv *s, struct conn *c)
{
	struct netlist l = { .arr = json_array() };
	char dir[600], *end;
	int64_t rev = 0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/", s->prefix);
	l.plen = strlen(dir);
	end = etcd_prefix_end(dir);
	if (!l.arr || !end) {
		free(end);
		json_decref(l.arr);
		srv_reply_text(s, c, 500, "out of memory");
		return;
	}
	rc = etcd_range_all(s->e, dir, end, 500, net_kv, &l, &rev);
	free(end);
	if (rc != ETCD_OK) {
		json_decref(l.arr);
		srv_reply_text(s, c, etcd_status(rc), "read networks: %s", etcd_error(s->e));
		return;
	}
	reply_json(s, c, watch_result(NULL, l.arr, rev));
}

/* POST reservations: {"Subnet":"...","PublicIP":"..."}, a key without an etcd lease. */
static void reserve(struct srv *s, struct conn *c)
{
	json_t *root = json_loadb(c->req.body ? c->req.body : "", c->req.body_len,
				  JSON_REJECT_DUPLICATES, NULL);
	const char *sub = json_string_value(json_object_get(root, "Subnet"));
	const char *ip = json_string_value(json_object_get(root, "PublicIP"));
	struct net_config cfg;
	struct prefix p, none = { 0 };
	struct lease l;
	char leaf[KEY_STRLEN], full[600], *val = NULL;
	struct etcd_kv kv;
	int rc;

	lease_init(&l);
	if (!sub || !ip || prefix_parse_strict(sub, &p) < 0 || p.addr.family != AF_INET ||
	    addr_parse_family(ip, AF_INET, &l.public_ip) < 0 || addr_is_unusable(&l.public_ip)) {
		srv_reply_text(s, c, 400, "JSON decoding error: a reservation is "
			       "{\"Subnet\":\"a.b.c.d/n\",\"PublicIP\":\"a.b.c.d\"}");
		goto out;
	}
	if (read_config(s, c, &cfg) < 0)
		goto out;
	rc = config_subnet_ok(&cfg, &p);
	config_clear(&cfg);
	if (!rc) {
		srv_reply_text(s, c, 400, "subnet %s is not a subnet of network %s", sub, c->net);
		goto out;
	}
	subnet_key_format(&p, &none, leaf, sizeof(leaf));
	acquire_key(c->prefix, leaf, full, sizeof(full));
	rc = etcd_get(s->e, full, &kv, NULL);
	if (rc == ETCD_OK) {
		etcd_kv_clear(&kv);
		srv_reply_text(s, c, 409, "subnet %s is already leased or reserved", sub);
		goto out;
	}
	val = lease_format_value(&l);
	rc = val ? etcd_create(s->e, full, val, 0, NULL) : ETCD_ERR_NOMEM;
	if (rc == ETCD_EXISTS)
		srv_reply_text(s, c, 409, "subnet %s is already leased or reserved", sub);
	else if (rc != ETCD_OK)
		srv_reply_text(s, c, etcd_status(rc), "reserve: %s", etcd_error(s->e));
	else
		srv_reply(s, c, 200, "text/plain; charset=utf-8", "", 0);
out:
	free(val);
	lease_clear(&l);
	json_decref(root);
}

/* /v1/{net}/{what}[/{key}] */
static void route_net(struct srv *s, struct conn *c, const char *net, const char *what,
		      const char *key)
{
	const char *m = c->req.method;
	bool get = strcmp(m, "GET") == 0;

	if (net_prefix(s, c, net) < 0)
		return;
	if (strcmp(what, "config") == 0 && !key) {
		if (get)
			get_config(s, c);
		else
			srv_reply_text(s, c, 405, "method not allowed");
	} else if (strcmp(what, "leases") == 0 && !key) {
		if (get)
			watch(s, c, W_LEASES);
		else if (strcmp(m, "POST") == 0)
			acquire(s, c);
		else
			srv_reply_text(s, c, 405, "method not allowed");
	} else if (strcmp(what, "leases") == 0) {
		struct prefix v4, v6;
		char full[600];

		if (get) {
			if (parse_key(s, c, key, &v4, &v6, full, sizeof(full)) == 0)
				watch(s, c, W_LEASE);
		} else if (strcmp(m, "PUT") == 0) {
			renew(s, c, key);
		} else if (strcmp(m, "DELETE") == 0) {
			revoke(s, c, key, false);
		} else {
			srv_reply_text(s, c, 405, "method not allowed");
		}
	} else if (strcmp(what, "reservations") == 0 && !key) {
		if (get)
			snapshot(s, c, true);
		else if (strcmp(m, "POST") == 0)
			reserve(s, c);
		else
			srv_reply_text(s, c, 405, "method not allowed");
	} else if (strcmp(what, "reservations") == 0) {
		if (strcmp(m, "DELETE") == 0)
			revoke(s, c, key, true);
		else
			srv_reply_text(s, c, 405, "method not allowed");
	} else {
		srv_reply_text(s, c, 404, "404 page not found");
	}
}

void api_handle(struct srv *s, struct conn *c)
{
	char path[SRV_URI_MAX], *seg[5] = { 0 }, *save = NULL, *t;
	int n = 0;

	snprintf(path, sizeof(path), "%s", c->req.path);
	/* Upstream's client joins paths: "leases/" arrives as "leases". */
	for (t = strtok_r(path, "/", &save); t && n < 5; t = strtok_r(NULL, "/", &save))
		seg[n++] = t;
	if (t || n == 0 || strcmp(seg[0], "v1") != 0) {
		srv_reply_text(s, c, 404, "404 page not found");
		return;
	}
	if (n == 1) {
		snprintf(c->prefix, sizeof(c->prefix), "%s", s->prefix);
		if (strcmp(c->req.method, "GET") == 0)
			watch(s, c, W_NETWORKS);
		else
			srv_reply_text(s, c, 405, "method not allowed");
		return;
	}
	if (n < 3 || n == 5) {
		srv_reply_text(s, c, 404, "404 page not found");
		return;
	}
	route_net(s, c, seg[1], seg[2], n == 4 ? seg[3] : NULL);
}
