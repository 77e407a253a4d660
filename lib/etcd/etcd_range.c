/* etcd_range.c - reading keys: one key, or a range walked in pages at one
 * revision.  Where the transport pipelines (http://) the request for page
 * k+1 goes out before page k is parsed, so that etcd's gateway works on it
 * while we do. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/mem.h"
#include "etcd/etcd_call.h"
#include "etcd/etcd_remote.h"

struct etcd_prefetch {
	const char *range_end;
	long limit;
	int64_t rev;           /* the walk's revision; 0 until the first page */
	bool sent;             /* a request is out on endpoint ep for key at key_rev */
	size_t ep;
	char *key;
	size_t key_len;
	int64_t key_rev;
};

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

static json_t *range_req(const char *key, size_t keylen, const char *end, int64_t rev,
			 long limit)
{
	json_t *req = json_object();

	if (!req || json_object_set_new(req, "key", etcd_b64_string(key, keylen)) < 0 ||
	    (end && json_object_set_new(req, "range_end", etcd_b64_string(end, strlen(end))) < 0) ||
	    (rev && json_object_set_new(req, "revision", json_integer(rev)) < 0) ||
	    (limit && json_object_set_new(req, "limit", json_integer(limit)) < 0)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* One page; a paged walk asks for the next one (hook) before it reads it. */
static int range_page(struct etcd *e, const char *key, size_t keylen, const char *end,
		      int64_t rev, long limit, json_t **resp, etcd_raw_hook hook, void *arg)
{
	json_t *req = range_req(key, keylen, end, rev, limit);
	int rc;

	*resp = NULL;
	if (!req)
		return ETCD_ERR_NOMEM;
	rc = etcd_call_hooked(e, "/v3/kv/range", req, resp, hook, arg);
	json_decref(req);
	return rc;
}

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *kv, int64_t *rev)
{
	json_t *resp, *kvs;
	int rc;

	if (e->rm)
		return remote_get(e, key, kv, rev);
	rc = range_page(e, key, strlen(key), NULL, 0, 0, &resp, NULL, NULL);
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

/* The last occurrence of needle in the n bytes at hay. */
static const char *find_last(const char *hay, size_t n, const char *needle)
{
	size_t nl = strlen(needle);
	const char *p = hay, *last = NULL;

	while ((p = memmem(p, n - (size_t)(p - hay), needle, nl))) {
		last = p;
		p += nl;
	}
	return last;
}

/*
 * From the raw answer: the revision and the key after the last one.  The
 * gateway writes keys and values in base64, so '"key":"' can only start a
 * key, and '"revision":"' only the header's revision.
 */
static int next_from_raw(const struct buf *b, int64_t *rev, char **key, size_t *len)
{
	const char *k, *q, *r;
	char *dec, *next;
	size_t n;

	if (!memmem(b->data, b->len, "\"more\":true", 11))
		return -1;
	if (!*rev) {
		r = memmem(b->data, b->len, "\"revision\":\"", 12);
		*rev = r ? strtoll(r + 12, NULL, 10) : 0;
		if (*rev <= 0)
			return -1;
	}
	k = find_last(b->data, b->len, "\"key\":\"");
	q = k ? memchr(k + 7, '"', b->len - (size_t)(k + 7 - b->data)) : NULL;
	if (!q || !(dec = base64_decode(k + 7, (size_t)(q - k - 7), &n)))
		return -1;
	next = fl_malloc(n + 2);
	if (next) {
		memcpy(next, dec, n);
		next[n] = '\0';
		next[n + 1] = '\0';
	}
	free(dec);
	*key = next;
	*len = n + 1;
	return next ? 0 : -1;
}

/* The raw answer of a page is in e->resp: ask for the next one now. */
static void prefetch_next(struct etcd *e, size_t i, void *arg)
{
	struct etcd_prefetch *pf = arg;
	struct etcd_tx *t = e->tx[i];
	char err[256], *body = NULL;
	int64_t rev = pf->rev;
	json_t *req;

	pf->sent = false;
	free(pf->key);
	pf->key = NULL;
	if (!t->ops->send || !e->resp.data ||
	    next_from_raw(&e->resp, &rev, &pf->key, &pf->key_len) < 0)
		return;
	req = range_req(pf->key, pf->key_len, pf->range_end, rev, pf->limit);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	/* Only a head start: when it fails, the page is asked for as usual. */
	if (body && t->ops->send(t, "/v3/kv/range", body, etcd_auth(e), err, sizeof(err)) ==
			    ETCD_OK) {
		pf->sent = true;
		pf->ep = i;
		pf->key_rev = rev;
	}
	free(body);
}

/* The page asked for ahead of time, when it is the one wanted. */
static int take_prefetched(struct etcd *e, struct etcd_prefetch *pf, const char *start,
			   size_t start_len, int64_t at, json_t **resp)
{
	struct etcd_tx *t = e->tx[pf->ep];
	char err[256];
	long status = 0;
	size_t i = pf->ep;
	int rc;

	*resp = NULL;
	if (!pf->sent || i != e->cur || pf->key_rev != at || pf->key_len != start_len ||
	    memcmp(pf->key, start, start_len) != 0)
		return ETCD_ERR_UNAVAILABLE;
	pf->sent = false;
	rc = t->ops->recv(t, &status, &e->resp, err, sizeof(err));
	if (rc != ETCD_OK)
		return ETCD_ERR_UNAVAILABLE;
	if (status == 200)
		prefetch_next(e, i, pf);
	return etcd_answer(e, i, status, resp);
}

/* Deliver one page; remember the last key to continue after it. */
static int walk_page(struct etcd *e, json_t *kvs, etcd_kv_cb cb, void *arg, char **last)
{
	size_t i;
	json_t *o;

	json_array_foreach(kvs, i, o) {
		struct etcd_kv kv;
		int rc = etcd_kv_decode(o, &kv);

		if (rc) {
			etcd_set_error(e, "etcd answered a range with a malformed key or value");
			return rc;
		}
		rc = cb(arg, &kv);
		if (rc == 0 && i + 1 == json_array_size(kvs)) {
			free(*last);
			*last = kv.key;
			kv.key = NULL;
		}
		etcd_kv_clear(&kv);
		if (rc)
			return rc;
	}
	return ETCD_OK;
}

int etcd_range_all(struct etcd *e, const char *key, const char *range_end, long page,
		   etcd_kv_cb cb, void *arg, int64_t *rev)
{
	struct etcd_prefetch pf = { .range_end = range_end, .limit = page };
	char *start, *last = NULL;
	size_t start_len = strlen(key);
	int64_t at = rev ? *rev : 0;
	int rc;
	bool more = true;

	/* A flannel-server answers with one snapshot, at its own revision. */
	if (e->rm)
		return remote_range_all(e, key, cb, arg, rev);
	start = fl_strdup(key);
	rc = start ? ETCD_OK : ETCD_ERR_NOMEM;

	pf.rev = at;
	while (rc == ETCD_OK && more) {
		json_t *resp;

		/* Any failure of the page asked ahead: ask again, with failover. */
		rc = take_prefetched(e, &pf, start, start_len, at, &resp);
		if (rc != ETCD_OK)
			rc = range_page(e, start, start_len, range_end, at, page, &resp,
					prefetch_next, &pf);
		if (rc != ETCD_OK)
			break;
		if (!at)
			at = pf.rev = etcd_json_int(json_object_get(resp, "header"), "revision");
		more = json_is_true(json_object_get(resp, "more"));
		rc = walk_page(e, json_object_get(resp, "kvs"), cb, arg, &last);
		json_decref(resp);
		if (rc != ETCD_OK || !more || !last)
			break;
		/* Continue just after the last key: the same bytes plus a NUL. */
		free(start);
		start_len = strlen(last) + 1;
		start = fl_malloc(start_len + 1);
		if (!start) {
			rc = ETCD_ERR_NOMEM;
			break;
		}
		memcpy(start, last, start_len);
		start[start_len] = '\0';
	}
	free(pf.key);
	free(start);
	free(last);
	if (rev)
		*rev = at;
	return rc;
}
