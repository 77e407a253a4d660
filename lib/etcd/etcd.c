/* etcd.c - etcd v3 through its JSON gateway: unary calls with endpoint
 * failover, a timeout on every request, TLS and username/password.
 * http:// goes through lib/etcd/http.c; https:// through libcurl (etcd_curl.c). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/mem.h"
#include "etcd/etcd_internal.h"

void etcd_set_error(struct etcd *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

const char *etcd_error(const struct etcd *e)
{
	return e->err;
}

int etcd_exit_code(int status)
{
	switch (status) {
	case ETCD_OK:
	case ETCD_NOTFOUND:
	case ETCD_EXISTS:
		return 0;
	case ETCD_ERR_UNAVAILABLE:
		return 69;
	case ETCD_ERR_AUTH:
		return 77;
	case ETCD_ERR_USAGE:
		return 64;
	case ETCD_ERR_NOMEM:
		return 71;
	case ETCD_ERR_PROTO:
		return 76;
	default:
		return 1;
	}
}

static int split_endpoints(struct etcd *e, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char **grown;

		if (n == 0 || (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)) {
			snprintf(err, errlen, "etcd endpoint \"%.*s\" is not an http:// or https:// URL",
				 (int)n, p);
			return ETCD_ERR_USAGE;
		}
		grown = fl_realloc(e->eps, (e->n_eps + 1) * sizeof(*e->eps));
		if (!grown)
			return ETCD_ERR_NOMEM;
		e->eps = grown;
		/* Drop a trailing slash so that "<ep>/v3/..." is well formed. */
		e->eps[e->n_eps] = fl_strndup(p, n && p[n - 1] == '/' ? n - 1 : n);
		if (!e->eps[e->n_eps])
			return ETCD_ERR_NOMEM;
		e->n_eps++;
		p += n;
		if (*p == ',')
			p++;
	}
	if (!e->n_eps) {
		snprintf(err, errlen, "no etcd endpoint given");
		return ETCD_ERR_USAGE;
	}
	return ETCD_OK;
}

static char *dup_opt(const char *s, int *bad)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = fl_strdup(s);
	if (!d)
		*bad = 1;
	return d;
}

/* An http_conn per http:// endpoint; libcurl only when one is https://. */
static int open_transports(struct etcd *e, char *err, size_t errlen)
{
	bool need_curl = false;
	char why[256];

	e->conns = fl_calloc(e->n_eps, sizeof(*e->conns));
	if (!e->conns)
		return ETCD_ERR_NOMEM;
	for (size_t i = 0; i < e->n_eps; i++) {
		int rc;

		if (strncmp(e->eps[i], "https://", 8) == 0) {
			need_curl = true;
			continue;
		}
		rc = http_conn_new(e->eps[i], e->timeout_ms, &e->conns[i], why, sizeof(why));
		if (rc == HTTP_ERR_NOMEM)
			return ETCD_ERR_NOMEM;
		if (rc != HTTP_OK) {
			snprintf(err, errlen, "etcd endpoint \"%s\": %s", e->eps[i], why);
			return ETCD_ERR_USAGE;
		}
	}
	return need_curl ? etcd_curl_load(err, errlen) : ETCD_OK;
}

int etcd_open(const struct etcd_opts *o, struct etcd **out, char *err, size_t errlen)
{
	struct etcd *e;
	int bad = 0, rc;

	*out = NULL;
	e = fl_calloc(1, sizeof(*e));
	if (!e)
		return ETCD_ERR_NOMEM;
	rc = split_endpoints(e, o->endpoints && *o->endpoints ? o->endpoints :
				ETCD_DEFAULT_ENDPOINTS, err, errlen);
	if (rc != ETCD_OK)
		goto fail;
	if ((o->certfile && *o->certfile) != (o->keyfile && *o->keyfile)) {
		snprintf(err, errlen, "--etcd-certfile and --etcd-keyfile go together");
		rc = ETCD_ERR_USAGE;
		goto fail;
	}
	if ((o->username && *o->username) != (o->password && *o->password)) {
		snprintf(err, errlen, "--etcd-username and --etcd-password go together");
		rc = ETCD_ERR_USAGE;
		goto fail;
	}
	e->cafile = dup_opt(o->cafile, &bad);
	e->certfile = dup_opt(o->certfile, &bad);
	e->keyfile = dup_opt(o->keyfile, &bad);
	e->username = dup_opt(o->username, &bad);
	e->password = dup_opt(o->password, &bad);
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
	if (bad) {
		rc = ETCD_ERR_NOMEM;
		goto fail;
	}
	rc = open_transports(e, err, errlen);
	if (rc != ETCD_OK)
		goto fail;
	*out = e;
	return ETCD_OK;
fail:
	if (rc == ETCD_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	etcd_close(e);
	return rc;
}

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	etcd_curl_free(e);
	for (size_t i = 0; i < e->n_eps; i++) {
		free(e->eps[i]);
		if (e->conns)
			http_conn_free(e->conns[i]);
	}
	free(e->eps);
	free(e->conns);
	free(e->cafile);
	free(e->certfile);
	free(e->keyfile);
	free(e->username);
	if (e->password)
		explicit_bzero(e->password, strlen(e->password));
	free(e->password);
	explicit_bzero(e->token, sizeof(e->token));
	free(e->resp.data);
	free(e);
}

/* Classify a gateway error body: {"error":..,"message":..,"code":N}. */
static int server_error(struct etcd *e, long http, json_t *resp)
{
	const char *msg = json_string_value(json_object_get(resp, "message"));
	json_int_t code = json_integer_value(json_object_get(resp, "code"));

	if (!msg)
		msg = json_string_value(json_object_get(resp, "error"));
	etcd_set_error(e, "etcd answered HTTP %ld: %s", http, msg ? msg : "(no message)");
	/* With auth on, a request without a token is "user name is empty"
	 * (InvalidArgument, 3): a credentials problem all the same. */
	if (code == 16 || code == 7 || http == 401 || http == 403 ||
	    (msg && strstr(msg, "user name is empty")))
		return ETCD_ERR_AUTH;
	if (msg && strstr(msg, "compacted"))
		return ETCD_ERR_COMPACTED;
	if (code == 14 || http == 503 || (msg && strstr(msg, "no leader")))
		return ETCD_ERR_UNAVAILABLE;
	return ETCD_ERR_SERVER;
}

/* The answer of one POST to endpoint i in e->resp, whichever transport. */
static int post_raw(struct etcd *e, size_t i, const char *path, const char *body, long *http)
{
	const char *ep = e->eps[i];
	char cause[256] = "", url[1024];
	int rc, status = 0;

	if (e->conns[i]) {
		rc = http_post(e->conns[i], path, body, e->token[0] ? e->token : NULL, &status,
			       &e->resp, cause, sizeof(cause));
		*http = status;
		rc = rc == HTTP_OK ? ETCD_OK : rc == HTTP_ERR_NOMEM ? ETCD_ERR_NOMEM :
		     rc == HTTP_ERR_USAGE ? ETCD_ERR_USAGE : ETCD_ERR_UNAVAILABLE;
	} else if (snprintf(url, sizeof(url), "%s%s", ep, path) >= (int)sizeof(url)) {
		etcd_set_error(e, "etcd URL too long: %s", ep);
		return ETCD_ERR_USAGE;
	} else {
		rc = etcd_curl_post(e, url, body, http, cause, sizeof(cause));
	}
	if (rc == ETCD_ERR_NOMEM)
		etcd_set_error(e, "etcd at %s: out of memory", ep);
	else if (rc != ETCD_OK)
		etcd_set_error(e, "etcd unreachable at %s: %s", ep, cause);
	return rc;
}

/* The JSON object in e->resp, or why there is none: etcd's own error. */
int etcd_answer(struct etcd *e, size_t i, long http, json_t **resp)
{
	json_error_t jerr;
	int rc;

	*resp = json_loadb(e->resp.data ? e->resp.data : "", e->resp.len, 0, &jerr);
	if (!*resp || !json_is_object(*resp)) {
		etcd_set_error(e, "etcd at %s answered HTTP %ld with no JSON object%s%s", e->eps[i],
			       http, *resp ? "" : ": ", *resp ? "" : jerr.text);
		json_decref(*resp);
		*resp = NULL;
		return http == 404 ? ETCD_ERR_PROTO : ETCD_ERR_UNAVAILABLE;
	}
	if (http != 200) {
		rc = server_error(e, http, *resp);
		json_decref(*resp);
		*resp = NULL;
		return rc;
	}
	return ETCD_OK;
}

/* One POST to one endpoint. */
static int call_one(struct etcd *e, size_t i, const char *path, const char *body,
		    json_t **resp)
{
	long http = 0;
	int rc = post_raw(e, i, path, body, &http);

	if (rc != ETCD_OK)
		return rc;
	/* A paged walk asks for its next page before it reads this one. */
	if (e->pf && http == 200 && strcmp(path, "/v3/kv/range") == 0)
		etcd_prefetch_next(e, i);
	return etcd_answer(e, i, http, resp);
}

static int authenticate(struct etcd *e, size_t ep)
{
	json_t *req, *resp = NULL;
	const char *tok;
	char *body;
	int rc;

	e->token[0] = '\0';
	req = json_pack("{s:s, s:s}", "name", e->username, "password", e->password);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return ETCD_ERR_NOMEM;
	rc = call_one(e, ep, "/v3/auth/authenticate", body, &resp);
	explicit_bzero(body, strlen(body));
	free(body);
	if (rc == ETCD_ERR_SERVER || rc == ETCD_ERR_AUTH) {
		etcd_set_error(e, "authenticate as %s: %s", e->username,
			       strstr(e->err, ": ") ? strstr(e->err, ": ") + 2 : e->err);
		return ETCD_ERR_AUTH;
	}
	if (rc != ETCD_OK)
		return rc;
	tok = json_string_value(json_object_get(resp, "token"));
	if (!tok || strlen(tok) >= sizeof(e->token)) {
		json_decref(resp);
		etcd_set_error(e, "authenticate as %s: no token in the answer", e->username);
		return ETCD_ERR_PROTO;
	}
	memcpy(e->token, tok, strlen(tok) + 1);
	json_decref(resp);
	return ETCD_OK;
}

/* Ensure a token for endpoint ep (when auth is configured). */
int etcd_ensure_auth(struct etcd *e, size_t ep)
{
	if (!e->username || e->token[0])
		return ETCD_OK;
	return authenticate(e, ep);
}

/*
 * POST body to path, trying every endpoint from the last one that worked.
 * Only "unavailable" moves on to the next endpoint; an answer from etcd is
 * final (after one re-authentication when a token expired).
 */
int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp)
{
	char *body = json_dumps(req, JSON_COMPACT);
	int rc = ETCD_ERR_UNAVAILABLE;

	*resp = NULL;
	if (!body)
		return ETCD_ERR_NOMEM;
	for (size_t tries = 0; tries < e->n_eps; tries++) {
		size_t ep = e->cur;

		rc = etcd_ensure_auth(e, ep);
		if (rc == ETCD_OK)
			rc = call_one(e, ep, path, body, resp);
		if (rc == ETCD_ERR_AUTH && e->username && e->token[0]) {
			/* The token may have expired: authenticate again, once. */
			e->token[0] = '\0';
			rc = etcd_ensure_auth(e, ep);
			if (rc == ETCD_OK)
				rc = call_one(e, ep, path, body, resp);
		}
		if (rc != ETCD_ERR_UNAVAILABLE)
			break;
		e->token[0] = '\0';
		e->cur = (e->cur + 1) % e->n_eps;
	}
	free(body);
	return rc;
}

int64_t etcd_json_int(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return json_integer_value(v);
	return 0;
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

static char *decode_field(json_t *o, const char *name, size_t *len, int *bad)
{
	json_t *v = json_object_get(o, name);
	char *d;

	if (!v) {
		*len = 0;
		d = fl_strdup("");
		if (!d)
			*bad = ETCD_ERR_NOMEM;
		return d;
	}
	if (!json_is_string(v)) {
		*bad = ETCD_ERR_PROTO;
		return NULL;
	}
	d = base64_decode(json_string_value(v), json_string_length(v), len);
	if (!d)
		*bad = ETCD_ERR_PROTO;
	return d;
}

int etcd_kv_decode(json_t *o, struct etcd_kv *kv)
{
	int bad = 0;

	memset(kv, 0, sizeof(*kv));
	kv->key = decode_field(o, "key", &kv->key_len, &bad);
	kv->value = decode_field(o, "value", &kv->value_len, &bad);
	kv->lease = etcd_json_int(o, "lease");
	kv->mod_revision = etcd_json_int(o, "mod_revision");
	kv->create_revision = etcd_json_int(o, "create_revision");
	kv->version = etcd_json_int(o, "version");
	if (bad)
		etcd_kv_clear(kv);
	return bad;
}

static json_t *b64_string(const char *s, size_t len)
{
	char *enc = base64_encode(s, len);
	json_t *j;

	if (!enc)
		return NULL;
	j = json_string(enc);
	free(enc);
	return j;
}

char *etcd_prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *end = fl_strdup(prefix);

	if (!end)
		return NULL;
	/* etcd's convention: the prefix with its last byte plus one. */
	while (n > 0) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			return end;
		}
		n--;
	}
	end[0] = '\0';
	return end;
}

json_t *etcd_range_req(const char *key, size_t keylen, const char *end, int64_t rev, long limit)
{
	json_t *req = json_object();

	if (!req || json_object_set_new(req, "key", b64_string(key, keylen)) < 0 ||
	    (end && json_object_set_new(req, "range_end", b64_string(end, strlen(end))) < 0) ||
	    (rev && json_object_set_new(req, "revision", json_integer(rev)) < 0) ||
	    (limit && json_object_set_new(req, "limit", json_integer(limit)) < 0)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int etcd_range_page(struct etcd *e, const char *key, size_t keylen, const char *end,
		    int64_t rev, long limit, json_t **resp)
{
	json_t *req = etcd_range_req(key, keylen, end, rev, limit);
	int rc;

	*resp = NULL;
	if (!req)
		return ETCD_ERR_NOMEM;
	rc = etcd_call(e, "/v3/kv/range", req, resp);
	json_decref(req);
	return rc;
}

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *kv, int64_t *rev)
{
	json_t *resp, *kvs;
	int rc = etcd_range_page(e, key, strlen(key), NULL, 0, 0, &resp);

	memset(kv, 0, sizeof(*kv));
	if (rc != ETCD_OK)
		return rc;
	if (rev)
		*rev = etcd_json_int(json_object_get(resp, "header"), "revision");
	kvs = json_object_get(resp, "kvs");
	if (!json_array_size(kvs)) {
		rc = ETCD_NOTFOUND;
	} else {
		rc = etcd_kv_decode(json_array_get(kvs, 0), kv);
		if (rc == ETCD_ERR_PROTO)
			etcd_set_error(e, "etcd answered a range with a malformed key or value");
	}
	json_decref(resp);
	return rc;
}

static int kv_request(const char *key, const char *val, int64_t lease, json_t **out)
{
	json_t *req = json_object();

	*out = req;
	if (!req || json_object_set_new(req, "key", b64_string(key, strlen(key))) < 0 ||
	    (val && json_object_set_new(req, "value", b64_string(val, strlen(val))) < 0) ||
	    (lease && json_object_set_new(req, "lease", json_integer(lease)) < 0))
		return ETCD_ERR_NOMEM;
	return ETCD_OK;
}

static void header_rev(json_t *resp, int64_t *rev)
{
	if (rev)
		*rev = etcd_json_int(json_object_get(resp, "header"), "revision");
}

int etcd_put(struct etcd *e, const char *key, const char *val, int64_t lease, int64_t *rev)
{
	json_t *req, *resp;
	int rc = kv_request(key, val, lease, &req);

	if (rc == ETCD_OK)
		rc = etcd_call(e, "/v3/kv/put", req, &resp);
	json_decref(req);
	if (rc != ETCD_OK)
		return rc;
	header_rev(resp, rev);
	json_decref(resp);
	return ETCD_OK;
}

int etcd_create(struct etcd *e, const char *key, const char *val, int64_t lease, int64_t *rev)
{
	json_t *put, *req = NULL, *resp;
	char *k64 = base64_encode(key, strlen(key));
	int rc = kv_request(key, val, lease, &put);

	if (rc == ETCD_OK && k64)
		req = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:[{s:O}]}", "compare", "key", k64,
				"target", "VERSION", "result", "EQUAL", "version", "0",
				"success", "request_put", put);
	free(k64);
	json_decref(put);
	if (!req)
		return ETCD_ERR_NOMEM;
	rc = etcd_call(e, "/v3/kv/txn", req, &resp);
	json_decref(req);
	if (rc != ETCD_OK)
		return rc;
	header_rev(resp, rev);
	/* proto3 leaves out false: no "succeeded" means the key was there. */
	rc = json_is_true(json_object_get(resp, "succeeded")) ? ETCD_OK : ETCD_EXISTS;
	json_decref(resp);
	return rc;
}

int etcd_delete(struct etcd *e, const char *key, int64_t *deleted)
{
	json_t *req, *resp;
	int rc = kv_request(key, NULL, 0, &req);

	if (rc == ETCD_OK)
		rc = etcd_call(e, "/v3/kv/deleterange", req, &resp);
	json_decref(req);
	if (rc != ETCD_OK)
		return rc;
	if (deleted)
		*deleted = etcd_json_int(resp, "deleted");
	json_decref(resp);
	return ETCD_OK;
}

/* POST {"<field>": n} to one of the lease endpoints. */
static int lease_call(struct etcd *e, const char *path, const char *field, int64_t n,
		      json_t **resp)
{
	json_t *req = json_pack("{s:I}", field, (json_int_t)n);
	int rc;

	if (!req)
		return ETCD_ERR_NOMEM;
	rc = etcd_call(e, path, req, resp);
	json_decref(req);
	return rc;
}

int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id)
{
	json_t *resp;
	int rc = lease_call(e, "/v3/lease/grant", "TTL", ttl, &resp);

	if (rc != ETCD_OK)
		return rc;
	*id = etcd_json_int(resp, "ID");
	json_decref(resp);
	if (!*id) {
		etcd_set_error(e, "etcd granted no lease");
		return ETCD_ERR_PROTO;
	}
	return ETCD_OK;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl)
{
	json_t *resp;
	int rc = lease_call(e, "/v3/lease/keepalive", "ID", id, &resp);

	if (rc != ETCD_OK)
		return rc;
	/* The gateway streams keep-alive answers: {"result":{...}}. */
	*ttl = etcd_json_int(json_object_get(resp, "result"), "TTL");
	json_decref(resp);
	return *ttl > 0 ? ETCD_OK : ETCD_NOTFOUND;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	json_t *resp;
	int rc = lease_call(e, "/v3/lease/revoke", "ID", id, &resp);

	if (rc == ETCD_OK)
		json_decref(resp);
	return rc;
}

int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl)
{
	json_t *resp;
	int rc = lease_call(e, "/v3/lease/timetolive", "ID", id, &resp);

	if (rc != ETCD_OK)
		return rc;
	*ttl = etcd_json_int(resp, "TTL");
	json_decref(resp);
	return *ttl >= 0 ? ETCD_OK : ETCD_NOTFOUND;
}
