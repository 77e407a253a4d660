/* etcd_remote.c - flannel's etcd calls through a flannel-server: requests
 * with failover over --remote's servers, keys mapped to /v1 paths, the
 * server's Lease JSON turned back into the etcd key and value it stands for. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "etcd/etcd_remote.h"

/* The servers are the etcd client's endpoints (e->eps, e->tx, e->cur: one
 * transport each, failover as for etcd); this is what client mode adds. */
struct etcd_remote {
	char *base;        /* the tools' prefix: network "_" is here, NAME below it */
	char *network;     /* --remote-network, or NULL */
};

/* A network name goes into every URL: the server's own rule for one. */
static bool name_ok(const char *s, size_t n)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";

	if (n == 0 || n > 63 || (n == 1 && s[0] == '.') || (n == 2 && memcmp(s, "..", 2) == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(ok, s[i]))
			return false;
	return true;
}

int remote_urls(const struct etcd_opts *o, char **out, char *err, size_t errlen)
{
	bool tls = (o->remote_cafile && *o->remote_cafile) ||
		   (o->remote_certfile && *o->remote_certfile);
	const char *p = o->remote;
	struct buf b = { 0 };

	*out = NULL;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		bool scheme = (n > 7 && strncmp(p, "http://", 7) == 0) ||
			      (n > 8 && strncmp(p, "https://", 8) == 0);
		size_t skip = scheme ? (p[4] == 's' ? 8 : 7) : 0;

		/* HOST:PORT, or a URL with nothing after it. */
		if (n == 0 || memchr(p + skip, '/', n - skip)) {
			snprintf(err, errlen, "--remote \"%.*s\" is not HOST:PORT", (int)n, p);
			buf_free(&b);
			return ETCD_ERR_USAGE;
		}
		buf_printf(&b, "%s%s%.*s", b.len ? "," : "",
			   scheme ? "" : tls ? "https://" : "http://", (int)n, p);
		p += n + (comma ? 1 : 0);
	}
	if (!b.len) {
		snprintf(err, errlen, "--remote: no server given");
		return ETCD_ERR_USAGE;
	}
	*out = buf_take(&b);
	return *out ? ETCD_OK : ETCD_ERR_NOMEM;
}

int remote_open(struct etcd *e, const struct etcd_opts *o, char *err, size_t errlen)
{
	struct etcd_remote *r = fl_calloc(1, sizeof(*r));
	int bad = 0;

	if (!r)
		return ETCD_ERR_NOMEM;
	e->rm = r;
	if (o->remote_network && !name_ok(o->remote_network, strlen(o->remote_network))) {
		snprintf(err, errlen, "--remote-network \"%s\" is not a network name "
			 "(letters, digits, - _ ., at most 63)", o->remote_network);
		return ETCD_ERR_USAGE;
	}
	r->base = fl_strdup_opt(o->remote_prefix ? o->remote_prefix : ETCD_DEFAULT_PREFIX, &bad);
	r->network = fl_strdup_opt(o->remote_network, &bad);
	return bad ? ETCD_ERR_NOMEM : ETCD_OK;
}

void remote_close(struct etcd *e)
{
	struct etcd_remote *r = e->rm;

	if (!r)
		return;
	free(r->base);
	free(r->network);
	free(r);
	e->rm = NULL;
}

struct etcd_tx *remote_tx(struct etcd *e, size_t *i, const char **url)
{
	*i = e->cur;
	*url = e->eps[*i];
	return e->tx[*i];
}

void remote_failed(struct etcd *e, size_t i)
{
	if (e->cur == i)
		e->cur = (i + 1) % e->n_eps;
}

int remote_call(struct etcd *e, const char *method, const char *path, const char *body,
		long *http, struct buf **resp)
{
	char cause[256] = "";
	int rc = ETCD_ERR_UNAVAILABLE;

	/* Every server once, from the last one that answered. */
	for (size_t k = 0; k < e->n_eps; k++) {
		size_t i = (e->cur + k) % e->n_eps;
		struct etcd_tx *t = e->tx[i];

		rc = t->ops->request(t, method, path, body, NULL, http, &e->resp, cause,
				     sizeof(cause));
		if (rc == ETCD_OK) {
			e->cur = i;
			*resp = &e->resp;
			return ETCD_OK;
		}
		etcd_set_error(e, "flannel-server unreachable at %s: %s", e->eps[i], cause);
		if (rc != ETCD_ERR_UNAVAILABLE)
			return rc;
	}
	return rc;
}

/* The network of prefix B: --remote-network, "_" for the tools' prefix, NAME below it. */
static int network_of(struct etcd *e, const char *b, size_t blen, char *net, size_t netlen)
{
	struct etcd_remote *r = e->rm;
	size_t bl = strlen(r->base);

	while (bl > 1 && r->base[bl - 1] == '/')
		bl--;
	if (r->network) {
		snprintf(net, netlen, "%s", r->network);
		return 0;
	}
	if (blen == bl && memcmp(b, r->base, bl) == 0) {
		snprintf(net, netlen, "_");
		return 0;
	}
	if (blen > bl + 1 && memcmp(b, r->base, bl) == 0 && b[bl] == '/' &&
	    name_ok(b + bl + 1, blen - bl - 1) && blen - bl - 1 < netlen) {
		snprintf(net, netlen, "%.*s", (int)(blen - bl - 1), b + bl + 1);
		return 0;
	}
	etcd_set_error(e, "key %s is not of a network under %s", b, r->base);
	return -1;
}

/* <B>/config -> /v1/NET/config; <B>/subnets/[LEAF] -> /v1/NET/leases[/LEAF]. */
int remote_path(struct etcd *e, const char *key, char *path, size_t len, const char **leaf)
{
	size_t kl = strlen(key);
	const char *sub = NULL;
	char net[128];

	*leaf = NULL;
	if (kl > 7 && strcmp(key + kl - 7, "/config") == 0) {
		if (network_of(e, key, kl - 7, net, sizeof(net)) < 0)
			return -1;
		return snprintf(path, len, "/v1/%s/config", net) < (int)len ? 0 : -1;
	}
	for (const char *p = key; (p = strstr(p, "/subnets/")); p++)
		sub = p;
	if (!sub || network_of(e, key, (size_t)(sub - key), net, sizeof(net)) < 0) {
		if (!sub)
			etcd_set_error(e, "key %s is not served by a flannel-server", key);
		return -1;
	}
	*leaf = sub + 9;
	return snprintf(path, len, "/v1/%s/leases%s%s", net, **leaf ? "/" : "", *leaf) < (int)len ?
		       0 : -1;
}

static int64_t num_field(json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));

	return s ? strtoll(s, NULL, 10) : 0;
}

/* A Lease of the server as the kv etcd holds for it: key <dir><leaf>, value its Attrs. */
int remote_kv_of(struct etcd *e, const char *dir, json_t *lease, int64_t cursor,
		 struct etcd_kv *kv)
{
	const char *sub = json_string_value(json_object_get(lease, "Subnet"));
	const char *sub6 = json_string_value(json_object_get(lease, "IPv6Subnet"));
	const char *exp = json_string_value(json_object_get(lease, "Expiration"));
	json_t *attrs = json_object_get(lease, "Attrs");
	struct prefix v4 = { 0 }, v6 = { 0 };
	char leaf[KEY_STRLEN];
	time_t t = 0;
	int n;

	memset(kv, 0, sizeof(*kv));
	if ((sub && prefix_parse(sub, &v4) < 0) || (sub6 && prefix_parse(sub6, &v6) < 0) ||
	    (!sub && !sub6) || subnet_key_format(&v4, &v6, leaf, sizeof(leaf)) < 0) {
		etcd_set_error(e, "flannel-server sent a lease without a valid subnet");
		return ETCD_ERR_PROTO;
	}
	n = snprintf(NULL, 0, "%s%s", dir, leaf);
	kv->key = fl_malloc((size_t)n + 1);
	kv->value = json_is_object(attrs) ? json_dumps(attrs, JSON_COMPACT | JSON_PRESERVE_ORDER) :
					    NULL;
	if (!kv->key || (json_is_object(attrs) && !kv->value)) {
		etcd_kv_clear(kv);
		return ETCD_ERR_NOMEM;
	}
	snprintf(kv->key, (size_t)n + 1, "%s%s", dir, leaf);
	kv->key_len = (size_t)n;
	kv->value_len = kv->value ? strlen(kv->value) : 0;
	kv->lease = num_field(lease, "LeaseID");
	/* An old server sends no LeaseID: an expiry still tells a lease from a reservation. */
	if (!kv->lease && exp && time_parse_utc(exp, &t) == 0 && t > 0)
		kv->lease = 1;
	kv->mod_revision = num_field(lease, "ModRevision");
	if (!kv->mod_revision)
		kv->mod_revision = cursor;
	return ETCD_OK;
}

/* A non-200 answer: its status line and body, as upstream's client says it. */
static int answer_error(struct etcd *e, long http, const struct buf *b)
{
	int n = (int)(b->len > 300 ? 300 : b->len);

	while (n > 0 && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r'))
		n--;
	etcd_set_error(e, "flannel-server answered %ld: %.*s", http, n, b->len ? b->data : "");
	if (http == 404)
		return ETCD_NOTFOUND;
	if (http == 401 || http == 403)
		return ETCD_ERR_AUTH;
	if (http == 503)
		return ETCD_ERR_UNAVAILABLE;
	return ETCD_ERR_SERVER;
}

static json_t *answer_json(struct etcd *e, const struct buf *b)
{
	json_t *o = json_loadb(b->data ? b->data : "", b->len, JSON_REJECT_DUPLICATES, NULL);

	if (!json_is_object(o)) {
		json_decref(o);
		etcd_set_error(e, "flannel-server answered something that is not a JSON object");
		return NULL;
	}
	return o;
}

/* The directory of the leases of key's network ("<B>/subnets/"). */
static int dir_of(const char *key, const char *leaf, char *dir, size_t len)
{
	return snprintf(dir, len, "%.*s", (int)(leaf - key), key) < (int)len ? 0 : -1;
}

int remote_get(struct etcd *e, const char *key, struct etcd_kv *kv, int64_t *rev)
{
	char path[700], dir[600];
	const char *leaf;
	struct buf *b;
	json_t *o, *snap;
	long http = 0;
	int rc;

	memset(kv, 0, sizeof(*kv));
	if (rev)
		*rev = 0;
	if (remote_path(e, key, path, sizeof(path), &leaf) < 0)
		return ETCD_ERR_USAGE;
	if (leaf && !*leaf)
		return remote_refuse(e, "a get of the lease directory");
	rc = remote_call(e, "GET", path, NULL, &http, &b);
	if (rc != ETCD_OK)
		return rc;
	if (http != 200)
		return answer_error(e, http, b);
	if (!leaf) {
		/* The config, as stored: the tools parse it. */
		kv->key = fl_strdup(key);
		kv->value = fl_strndup(b->data ? b->data : "", b->len);
		if (!kv->key || !kv->value) {
			etcd_kv_clear(kv);
			return ETCD_ERR_NOMEM;
		}
		kv->key_len = strlen(key);
		kv->value_len = b->len;
		return ETCD_OK;
	}
	if (!(o = answer_json(e, b)))
		return ETCD_ERR_PROTO;
	snap = json_object_get(o, "snapshot");
	if (rev)
		*rev = num_field(o, "cursor");
	rc = json_array_size(snap) == 0 ? ETCD_NOTFOUND : dir_of(key, leaf, dir, sizeof(dir)) ?
	     ETCD_ERR_USAGE : remote_kv_of(e, dir, json_array_get(snap, 0), 0, kv);
	json_decref(o);
	return rc;
}

int remote_range_all(struct etcd *e, const char *key, etcd_kv_cb cb, void *arg, int64_t *rev)
{
	char path[700];
	const char *leaf;
	struct buf *b;
	json_t *o, *snap, *l;
	size_t i;
	long http = 0;
	int rc;

	if (remote_path(e, key, path, sizeof(path), &leaf) < 0 || !leaf || *leaf)
		return remote_refuse(e, "a range other than the lease directory");
	rc = remote_call(e, "GET", path, NULL, &http, &b);
	if (rc != ETCD_OK)
		return rc;
	if (http != 200)
		return answer_error(e, http, b);
	if (!(o = answer_json(e, b)))
		return ETCD_ERR_PROTO;
	snap = json_object_get(o, "snapshot");
	if (rev)
		*rev = num_field(o, "cursor");
	json_array_foreach(snap, i, l) {
		struct etcd_kv kv;

		rc = remote_kv_of(e, key, l, 0, &kv);
		if (rc == ETCD_ERR_PROTO)
			continue;
		if (rc != ETCD_OK || cb(arg, &kv)) {
			etcd_kv_clear(&kv);
			break;
		}
		etcd_kv_clear(&kv);
	}
	json_decref(o);
	return rc == ETCD_ERR_PROTO ? ETCD_OK : rc;
}

int remote_refuse(struct etcd *e, const char *what)
{
	etcd_set_error(e, "%s is not served by a flannel-server (--remote)", what);
	return ETCD_ERR_USAGE;
}

/* The server's Lease into got: subnets, attributes, etcd lease, expiry. */
static int lease_of(struct acquire *a, json_t *o, struct lease *got, char *key, size_t keylen)
{
	struct etcd_kv kv;
	struct prefix v4, v6;
	const char *exp = json_string_value(json_object_get(o, "Expiration"));
	char why[256];
	int rc = remote_kv_of(a->e, "", o, 0, &kv);

	if (rc != ETCD_OK)
		return rc;
	if (subnet_key_parse_n(kv.key, kv.key_len, &v4, &v6) < 0 || !kv.value ||
	    lease_parse_value(got, kv.value, kv.value_len, why, sizeof(why)) < 0) {
		snprintf(a->err, sizeof(a->err), "flannel-server sent a lease we cannot read");
		etcd_kv_clear(&kv);
		return ETCD_ERR_PROTO;
	}
	got->subnet = v4;
	got->subnet6 = v6;
	got->lease_id = kv.lease;
	got->mod_revision = kv.mod_revision;
	if (!exp || time_parse_utc(exp, &got->expiration) < 0 || got->expiration < 0)
		got->expiration = 0;
	if (key)
		snprintf(key, keylen, "%s", kv.key);
	etcd_kv_clear(&kv);
	return ETCD_OK;
}

/* The network of a's prefix, as a path: /v1/NET/leases. */
static int leases_path(struct acquire *a, char *path, size_t len)
{
	char key[700];
	const char *leaf;

	if (snprintf(key, sizeof(key), "%s/subnets/", a->prefix) >= (int)sizeof(key))
		return -1;
	return remote_path(a->e, key, path, len, &leaf);
}

static int call_json(struct acquire *a, const char *method, const char *path, const char *body,
		     json_t **out)
{
	struct buf *b;
	long http = 0;
	int rc = remote_call(a->e, method, path, body, &http, &b);

	*out = NULL;
	if (rc == ETCD_OK && http == 409) {
		/* No free subnet: the server says which. */
		snprintf(a->err, sizeof(a->err), "%.*s", (int)(b->len && b->data[b->len - 1] == '\n' ?
							      b->len - 1 : b->len), b->data);
		return ACQUIRE_FULL;
	}
	if (rc == ETCD_OK && http != 200)
		rc = answer_error(a->e, http, b);
	if (rc == ETCD_OK && !(*out = answer_json(a->e, b)))
		rc = ETCD_ERR_PROTO;
	if (rc != ETCD_OK && rc != ETCD_NOTFOUND)
		snprintf(a->err, sizeof(a->err), "%s", etcd_error(a->e));
	return rc;
}

int remote_acquire(struct acquire *a, struct lease *got, char *key, size_t keylen,
		   int64_t *rev)
{
	char path[700], *body = lease_format_value(a->want);
	json_t *o = NULL;
	int rc;

	a->err[0] = '\0';
	if (!body)
		return ETCD_ERR_NOMEM;
	rc = leases_path(a, path, sizeof(path)) < 0 ? ETCD_ERR_USAGE :
	     call_json(a, "POST", path, body, &o);
	free(body);
	if (rc == ETCD_OK) {
		lease_clear(got);
		rc = lease_of(a, o, got, key, keylen);
	}
	if (rc == ETCD_OK && rev)
		*rev = got->mod_revision;
	if (rc == ETCD_OK)
		snprintf(a->note, sizeof(a->note), "through flannel-server");
	if (rc == ETCD_ERR_USAGE && !a->err[0])
		snprintf(a->err, sizeof(a->err), "%s", etcd_error(a->e));
	json_decref(o);
	return rc;
}

int remote_renew(struct acquire *a, struct lease *got)
{
	char path[800], base[700], sub[ADDR_STRLEN], t[64], leaf[KEY_STRLEN];
	char *val = lease_format_value(got), *body = NULL;
	json_t *o = NULL, *req, *attrs;
	struct lease back;
	int rc;

	if (!got->lease_id) {
		free(val);
		return ETCD_OK; /* a reservation never expires */
	}
	attrs = val ? json_loads(val, 0, NULL) : NULL;
	free(val);
	req = attrs ? json_pack("{s:s,s:o,s:s}", "Subnet",
				addr_is_set(&got->subnet.addr) ?
					prefix_format(&got->subnet, sub, sizeof(sub)) : "",
				"Attrs", attrs, "Expiration",
				time_format_utc(got->expiration, t, sizeof(t))) : NULL;
	body = req ? json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(req);
	if (!body)
		return ETCD_ERR_NOMEM;
	rc = leases_path(a, base, sizeof(base)) < 0 ||
	     subnet_key_format(&got->subnet, &got->subnet6, leaf, sizeof(leaf)) < 0 ||
	     snprintf(path, sizeof(path), "%s/%s", base, leaf) >= (int)sizeof(path) ?
		     ETCD_ERR_USAGE : call_json(a, "PUT", path, body, &o);
	free(body);
	lease_init(&back);
	if (rc == ETCD_OK)
		rc = lease_of(a, o, &back, NULL, 0);
	if (rc == ETCD_OK)
		got->expiration = back.expiration;
	lease_clear(&back);
	json_decref(o);
	return rc;
}
