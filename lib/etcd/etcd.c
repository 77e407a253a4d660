/* etcd.c - etcd v3 through its JSON gateway: the client's options and
 * transports (one per endpoint: etcd_tx_http.c for http://, etcd_curl.c for
 * https://), keys and leases over the request layer (etcd_call.c). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/mem.h"
#include "etcd/etcd_call.h"
#include "etcd/etcd_remote.h"

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

/* A transport per endpoint, by its scheme. */
static int open_transports(struct etcd *e, char *err, size_t errlen)
{
	e->tx = fl_calloc(e->n_eps, sizeof(*e->tx));
	if (!e->tx)
		return ETCD_ERR_NOMEM;
	for (size_t i = 0; i < e->n_eps; i++) {
		int rc = strncmp(e->eps[i], "https://", 8) == 0 ?
			 etcd_tx_curl_new(e->eps[i], e->timeout_ms, &e->tls, &e->tx[i], err,
					  errlen) :
			 etcd_tx_http_new(e->eps[i], e->timeout_ms, &e->tx[i], err, errlen);

		if (rc != ETCD_OK)
			return rc;
	}
	return ETCD_OK;
}

static int remote_client(struct etcd *e, const struct etcd_opts *o, struct etcd **out,
			 char *err, size_t errlen)
{
	char *urls = NULL;
	int bad = 0, rc = remote_urls(o, &urls, err, errlen);

	if (rc == ETCD_OK)
		rc = split_endpoints(e, urls, err, errlen);
	free(urls);
	if (rc == ETCD_OK && (o->remote_certfile && *o->remote_certfile) !=
				     (o->remote_keyfile && *o->remote_keyfile)) {
		snprintf(err, errlen, "--remote-certfile and --remote-keyfile go together");
		rc = ETCD_ERR_USAGE;
	}
	if (rc == ETCD_OK) {
		e->cafile = fl_strdup_opt(o->remote_cafile, &bad);
		e->certfile = fl_strdup_opt(o->remote_certfile, &bad);
		e->keyfile = fl_strdup_opt(o->remote_keyfile, &bad);
		e->tls = (struct etcd_tls){ e->cafile, e->certfile, e->keyfile };
		e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
		rc = bad ? ETCD_ERR_NOMEM : open_transports(e, err, errlen);
	}
	if (rc == ETCD_OK)
		rc = remote_open(e, o, err, errlen);
	if (rc != ETCD_OK) {
		if (rc == ETCD_ERR_NOMEM)
			snprintf(err, errlen, "out of memory");
		etcd_close(e);
		return rc;
	}
	*out = e;
	return ETCD_OK;
}

int etcd_open(const struct etcd_opts *o, struct etcd **out, char *err, size_t errlen)
{
	struct etcd *e;
	int bad = 0, rc;

	*out = NULL;
	e = fl_calloc(1, sizeof(*e));
	if (!e)
		return ETCD_ERR_NOMEM;
	/* Client mode: the flannel-servers are the endpoints, with their own TLS files. */
	if (o->remote && *o->remote)
		return remote_client(e, o, out, err, errlen);
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
	e->cafile = fl_strdup_opt(o->cafile, &bad);
	e->certfile = fl_strdup_opt(o->certfile, &bad);
	e->keyfile = fl_strdup_opt(o->keyfile, &bad);
	e->username = fl_strdup_opt(o->username, &bad);
	e->password = fl_strdup_opt(o->password, &bad);
	e->tls = (struct etcd_tls){ e->cafile, e->certfile, e->keyfile };
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
	e->watch_probe_ms = o->watch_probe_ms < 0 ? 0 :
			    o->watch_probe_ms ? o->watch_probe_ms : ETCD_DEFAULT_WATCH_PROBE_MS;
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
	remote_close(e);
	for (size_t i = 0; i < e->n_eps; i++) {
		free(e->eps[i]);
		if (e->tx && e->tx[i])
			e->tx[i]->ops->free(e->tx[i]);
	}
	free(e->eps);
	free(e->tx);
	free(e->cafile);
	free(e->certfile);
	free(e->keyfile);
	free(e->username);
	if (e->password)
		explicit_bzero(e->password, strlen(e->password));
	free(e->password);
	explicit_bzero(e->token, sizeof(e->token));
	buf_free(&e->resp);
	free(e);
}

static int kv_request(const char *key, const char *val, int64_t lease, json_t **out)
{
	json_t *req = json_object();

	*out = req;
	if (!req || json_object_set_new(req, "key", etcd_b64_string(key, strlen(key))) < 0 ||
	    (val && json_object_set_new(req, "value", etcd_b64_string(val, strlen(val))) < 0) ||
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
