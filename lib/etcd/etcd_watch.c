/* etcd_watch.c - an etcd v3 watch stream over the JSON gateway: one long
 * POST to /v3/watch whose answer is a stream of JSON lines, read through
 * the endpoint's transport (etcd_tx.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base64.h"
#include "base/mem.h"
#include "base/timefmt.h"
#include "etcd/etcd_call.h"
#include "etcd/etcd_remote.h"

struct etcd_watch {
	struct etcd *e;
	struct etcd_stream *st;
	char *body;
	char *probe;  /* the small question of probe() */
	int64_t heard_ms; /* monotonic: the last bytes from the stream */
	struct buf in;
	etcd_watch_cb cb;
	void *arg;
	int cb_rc;   /* a non-zero callback return stops the stream */
	int wake_fd;
	bool done;
	size_t ep_idx;
	char ep[256];
	struct remote_watch *rw;  /* client mode: a flannel-server's long poll */
};

static void watch_event_free(struct etcd_watch_event *ev)
{
	etcd_kv_clear(&ev->kv);
	etcd_kv_clear(&ev->prev_kv);
}

static int deliver_events(struct etcd_watch *w, json_t *events, int64_t rev)
{
	size_t i;
	json_t *o;

	json_array_foreach(events, i, o) {
		struct etcd_watch_event ev = { .revision = rev };
		const char *t = json_string_value(json_object_get(o, "type"));
		json_t *prev = json_object_get(o, "prev_kv");
		int rc;

		/* proto3 leaves out the default: no type means PUT. */
		ev.type = t && strcmp(t, "DELETE") == 0 ? EW_DELETE : EW_PUT;
		if (etcd_kv_decode(json_object_get(o, "kv"), &ev.kv))
			return ETCD_ERR_PROTO;
		if (prev && etcd_kv_decode(prev, &ev.prev_kv) == 0)
			ev.has_prev = true;
		rc = w->cb(w->arg, &ev);
		watch_event_free(&ev);
		if (rc)
			return rc;
	}
	return 0;
}

/* One line of the stream: {"result":{...}} or {"error":{...}}. */
static int handle_message(struct etcd_watch *w, const char *line, size_t len)
{
	struct etcd_watch_event ev = { 0 };
	json_error_t jerr;
	json_t *root, *res, *events;
	int rc = 0;

	root = json_loadb(line, len, 0, &jerr);
	if (!root) {
		etcd_set_error(w->e, "etcd watch stream from %s: bad JSON: %s", w->ep, jerr.text);
		return ETCD_ERR_PROTO;
	}
	w->e->contact = time(NULL);
	res = json_object_get(root, "result");
	if (!res) {
		json_t *err = json_object_get(root, "error");
		const char *msg = json_string_value(json_object_get(err, "message"));
		/* msg lives in root: everything read from it before the decref. */
		rc = msg && strstr(msg, "compacted") ? ETCD_ERR_COMPACTED : ETCD_ERR_UNAVAILABLE;

		etcd_set_error(w->e, "etcd watch at %s failed: %s", w->ep, msg ? msg : line);
		json_decref(root);
		return rc;
	}
	ev.revision = etcd_json_int(json_object_get(res, "header"), "revision");
	ev.compact_revision = etcd_json_int(res, "compact_revision");
	events = json_object_get(res, "events");
	if (json_is_true(json_object_get(res, "created"))) {
		ev.type = EW_CREATED;
		rc = w->cb(w->arg, &ev);
	}
	if (!rc && ev.compact_revision) {
		ev.type = EW_COMPACTED;
		rc = w->cb(w->arg, &ev);
	} else if (!rc && json_is_true(json_object_get(res, "canceled"))) {
		ev.type = EW_CANCELED;
		ev.reason = json_string_value(json_object_get(res, "cancel_reason"));
		rc = w->cb(w->arg, &ev);
		if (!rc) {
			etcd_set_error(w->e, "etcd cancelled the watch: %s",
				       ev.reason ? ev.reason : "no reason given");
			rc = ETCD_ERR_UNAVAILABLE;
		}
	} else if (!rc && json_array_size(events)) {
		rc = deliver_events(w, events, ev.revision);
	} else if (!rc && !json_is_true(json_object_get(res, "created"))) {
		ev.type = EW_PROGRESS;
		rc = w->cb(w->arg, &ev);
	}
	json_decref(root);
	return rc;
}

/* Body bytes of the stream: complete lines are messages. */
static int watch_data(void *arg, const char *data, size_t n)
{
	struct etcd_watch *w = arg;
	size_t start = 0;
	char *nl;

	w->heard_ms = mono_ms();
	if (w->cb_rc)
		return 1;
	if (buf_add(&w->in, data, n) < 0) {
		w->cb_rc = ETCD_ERR_NOMEM;
		return 1;
	}
	while ((nl = memchr(w->in.data + start, '\n', w->in.len - start))) {
		size_t len = (size_t)(nl - (w->in.data + start));

		if (len) {
			int rc = handle_message(w, w->in.data + start, len);

			if (rc) {
				w->cb_rc = rc;
				return 1;
			}
		}
		start += len + 1;
	}
	buf_drop(&w->in, start);
	return 0;
}

static int build_body(struct etcd_watch *w, const char *key, const char *range_end,
		      int64_t start_rev, bool prev_kv)
{
	char *k = base64_encode(key, strlen(key));
	char *r = range_end ? base64_encode(range_end, strlen(range_end)) : NULL;
	json_t *cr = json_object(), *req;

	if (!k || (range_end && !r) || !cr ||
	    json_object_set_new(cr, "key", json_string(k)) < 0 ||
	    (r && json_object_set_new(cr, "range_end", json_string(r)) < 0) ||
	    (start_rev && json_object_set_new(cr, "start_revision", json_integer(start_rev)) < 0) ||
	    (prev_kv && json_object_set_new(cr, "prev_kv", json_true()) < 0) ||
	    json_object_set_new(cr, "progress_notify", json_true()) < 0) {
		free(k);
		free(r);
		json_decref(cr);
		return ETCD_ERR_NOMEM;
	}
	req = json_pack("{s:o}", "create_request", cr);
	w->body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	/* Answered by the member itself (serializable), with a number only. */
	req = json_pack("{s:s,s:b,s:b}", "key", k, "count_only", 1, "serializable", 1);
	w->probe = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	free(k);
	free(r);
	return w->body && w->probe ? ETCD_OK : ETCD_ERR_NOMEM;
}

static int stream_open(struct etcd_watch *w)
{
	struct etcd *e = w->e;
	struct etcd_tx *t = e->tx[w->ep_idx];
	char cause[256];
	int rc = t->ops->stream_open(t, "POST", "/v3/watch", w->body, etcd_auth(e), watch_data, w, &w->st,
				     cause, sizeof(cause));

	if (rc != ETCD_OK && rc != ETCD_ERR_NOMEM)
		etcd_set_error(e, "etcd unreachable at %s: %s", w->ep, cause);
	return rc;
}

int etcd_watch_open(struct etcd *e, const char *key, const char *range_end, int64_t start_rev,
		    bool prev_kv, etcd_watch_cb cb, void *arg, struct etcd_watch **out)
{
	struct etcd_watch *w = fl_calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return ETCD_ERR_NOMEM;
	w->e = e;
	w->cb = cb;
	w->arg = arg;
	w->wake_fd = -1;
	if (e->rm) {
		rc = remote_watch_open(e, key, start_rev, cb, arg, &w->rw);
		if (rc != ETCD_OK) {
			free(w);
			return rc;
		}
		*out = w;
		return ETCD_OK;
	}
	/* A failed stream moves to the next endpoint on the next open. */
	w->ep_idx = e->cur;
	snprintf(w->ep, sizeof(w->ep), "%s", e->eps[e->cur]);
	rc = build_body(w, key, range_end, start_rev, prev_kv);
	w->heard_ms = mono_ms();
	if (rc == ETCD_OK)
		rc = etcd_ensure_auth(e, w->ep_idx);
	if (rc == ETCD_OK)
		rc = stream_open(w);
	if (rc != ETCD_OK)
		goto fail;
	*out = w;
	return ETCD_OK;
fail:
	if (rc == ETCD_ERR_UNAVAILABLE) {
		e->cur = (e->cur + 1) % e->n_eps;
		e->token[0] = '\0';
	}
	etcd_watch_close(w);
	return rc;
}

void etcd_watch_set_wakeup_fd(struct etcd_watch *w, int fd)
{
	w->wake_fd = fd;
}

/* The stream ended (rc from the transport): why, and what the caller does. */
static int stream_ended(struct etcd_watch *w, int rc, int http, const char *cause)
{
	w->done = true;
	if (w->cb_rc)
		return w->cb_rc;
	if (rc == HTTP_ERR_NOMEM || rc == HTTP_ERR_CALLBACK) {
		etcd_set_error(w->e, "etcd watch stream from %s: out of memory", w->ep);
		return ETCD_ERR_NOMEM;
	}
	if (rc != HTTP_DONE)
		etcd_set_error(w->e, "etcd watch stream from %s ended: %s", w->ep, cause);
	else
		etcd_set_error(w->e, "etcd watch stream from %s ended (HTTP %d)", w->ep, http);
	if (http == 401 || http == 403) {
		w->e->token[0] = '\0';
		return ETCD_ERR_AUTH;
	}
	w->e->cur = (w->e->cur + 1) % w->e->n_eps;
	w->e->token[0] = '\0';
	return ETCD_ERR_UNAVAILABLE;
}

/* The member of a silent stream asked whether it is alive (etcd.h). */
static int probe(struct etcd_watch *w)
{
	struct etcd_tx *t;
	struct buf resp = { 0 };
	char cause[256] = "";
	long http = 0;
	int rc;

	t = w->e->tx[w->ep_idx];
	rc = t->ops->request(t, "POST", "/v3/kv/range", w->probe, etcd_auth(w->e), &http, &resp,
			     cause, sizeof(cause));
	buf_free(&resp);
	/* Any answer, even a refusal, shows the member alive. */
	if (rc == ETCD_OK || rc == ETCD_ERR_AUTH || rc == ETCD_ERR_USAGE)
		return ETCD_OK;
	if (rc == ETCD_ERR_NOMEM)
		return rc;
	etcd_set_error(w->e, "etcd member %s does not answer while its watch stream is silent: %s",
		       w->ep, cause);
	w->done = true;
	w->e->cur = (w->ep_idx + 1) % w->e->n_eps;
	w->e->token[0] = '\0';
	return ETCD_ERR_UNAVAILABLE;
}

int etcd_watch_poll(struct etcd_watch *w, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	char cause[256] = "";

	if (w->rw)
		return remote_watch_poll(w->rw, w->wake_fd, timeout_ms);
	if (w->done)
		return w->cb_rc ? w->cb_rc : ETCD_ERR_UNAVAILABLE;
	for (;;) {
		int http = 0, left;
		int rc = w->st->ops->stream_read(w->st, &http, cause, sizeof(cause));

		if (rc != HTTP_OK)
			return stream_ended(w, rc, http, cause);
		if (w->cb_rc) {
			w->done = true;
			return w->cb_rc;
		}
		left = (int)(deadline - mono_ms());
		if (left <= 0) {
			if (!w->e->watch_probe_ms || mono_ms() - w->heard_ms < w->e->watch_probe_ms)
				return ETCD_OK;
			w->heard_ms = mono_ms();
			return probe(w);
		}
		if (w->st->ops->stream_wait(w->st, w->wake_fd, left))
			return ETCD_OK;
	}
}

int etcd_watch_feed(struct etcd *e, etcd_watch_cb cb, void *arg, const char *data, size_t n)
{
	struct etcd_watch w = { .e = e, .cb = cb, .arg = arg, .wake_fd = -1 };

	snprintf(w.ep, sizeof(w.ep), "%s", e->eps[e->cur]);
	watch_data(&w, data, n);
	free(w.in.data);
	return w.cb_rc;
}

void etcd_watch_close(struct etcd_watch *w)
{
	if (!w)
		return;
	remote_watch_close(w->rw);
	if (w->st)
		w->st->ops->stream_close(w->st);
	free(w->body);
	free(w->probe);
	free(w->in.data);
	free(w);
}
