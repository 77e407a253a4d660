/* etcd_call.c - the request layer: one POST through an endpoint's
 * transport, failover to the next endpoint, re-authentication when a token
 * expired, etcd's answers and errors, the fields of its JSON. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base64.h"
#include "base/mem.h"
#include "etcd/etcd_call.h"

void etcd_set_error(struct etcd *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

time_t etcd_last_date(const struct etcd *e)
{
	struct etcd_tx *t = e->n_eps ? e->tx[e->cur] : NULL;

	return t && t->ops->date ? t->ops->date(t) : 0;
}

bool etcd_is_remote(const struct etcd *e)
{
	return e->rm != NULL;
}

const char *etcd_error(const struct etcd *e)
{
	return e->err;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->n_eps ? e->eps[e->cur] : "";
}

time_t etcd_last_contact(const struct etcd *e)
{
	return e->contact;
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

const char *etcd_auth(const struct etcd *e)
{
	return e->token[0] ? e->token : NULL;
}

/* The answer of one POST to endpoint i in e->resp, whichever transport. */
static int post_raw(struct etcd *e, size_t i, const char *path, const char *body, long *http)
{
	struct etcd_tx *t = e->tx[i];
	char cause[256] = "";
	int rc = t->ops->request(t, "POST", path, body, etcd_auth(e), http, &e->resp, cause, sizeof(cause));

	if (rc == ETCD_ERR_NOMEM)
		etcd_set_error(e, "etcd at %s: out of memory", e->eps[i]);
	else if (rc != ETCD_OK)
		etcd_set_error(e, "etcd unreachable at %s: %s", e->eps[i], cause);
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
	e->contact = time(NULL);
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
		    json_t **resp, etcd_raw_hook hook, void *arg)
{
	long http = 0;
	int rc = post_raw(e, i, path, body, &http);

	if (rc != ETCD_OK)
		return rc;
	if (hook && http == 200)
		hook(e, i, arg);
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
	rc = call_one(e, ep, "/v3/auth/authenticate", body, &resp, NULL, NULL);
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
 * Only "unavailable" moves on to the next endpoint; an answer from etcd is
 * final (after one re-authentication when a token expired).
 */
int etcd_call_hooked(struct etcd *e, const char *path, json_t *req, json_t **resp,
		     etcd_raw_hook hook, void *arg)
{
	char *body;
	int rc = ETCD_ERR_UNAVAILABLE;

	*resp = NULL;
	/* Client mode: what etcd_remote.c does not map is not there to ask. */
	if (e->rm) {
		etcd_set_error(e, "%s is not served by a flannel-server (--remote)", path);
		return ETCD_ERR_USAGE;
	}
	body = json_dumps(req, JSON_COMPACT);
	if (!body)
		return ETCD_ERR_NOMEM;
	for (size_t tries = 0; tries < e->n_eps; tries++) {
		size_t ep = e->cur;

		rc = etcd_ensure_auth(e, ep);
		if (rc == ETCD_OK)
			rc = call_one(e, ep, path, body, resp, hook, arg);
		if (rc == ETCD_ERR_AUTH && e->username && e->token[0]) {
			/* The token may have expired: authenticate again, once. */
			e->token[0] = '\0';
			rc = etcd_ensure_auth(e, ep);
			if (rc == ETCD_OK)
				rc = call_one(e, ep, path, body, resp, hook, arg);
		}
		if (rc != ETCD_ERR_UNAVAILABLE)
			break;
		e->token[0] = '\0';
		e->cur = (e->cur + 1) % e->n_eps;
	}
	free(body);
	return rc;
}

int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp)
{
	return etcd_call_hooked(e, path, req, resp, NULL, NULL);
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

json_t *etcd_b64_string(const char *s, size_t len)
{
	char *enc = base64_encode(s, len);
	json_t *j;

	if (!enc)
		return NULL;
	j = json_string(enc);
	free(enc);
	return j;
}
