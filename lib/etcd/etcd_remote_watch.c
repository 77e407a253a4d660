/* etcd_remote_watch.c - a long poll of a flannel-server as an etcd watch:
 * GET .../leases[/KEY]?next=CURSOR on a connection of its own, one answer
 * per batch of changes, then the next poll from the cursor it gave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "etcd/etcd_remote.h"

struct remote_watch {
	struct etcd *e;
	char path[700];           /* /v1/NET/leases[/KEY] */
	char dir[600];            /* <B>/subnets/, the keys' directory */
	int64_t cursor;
	etcd_watch_cb cb;
	void *arg;
	struct etcd_stream *st;
	size_t ep;
	struct buf body;
	bool created;
};

static int collect(void *arg, const char *data, size_t len)
{
	return buf_add(arg, data, len) < 0;
}

static int poll_open(struct remote_watch *w)
{
	char path[760], cause[256] = "";
	const char *url;
	struct etcd_tx *t = remote_tx(w->e, &w->ep, &url);
	int rc;

	buf_reset(&w->body);
	snprintf(path, sizeof(path), "%s?next=%lld", w->path, (long long)w->cursor);
	rc = t->ops->stream_open(t, "GET", path, NULL, NULL, collect, &w->body, &w->st, cause,
				 sizeof(cause));
	if (rc != ETCD_OK) {
		etcd_set_error(w->e, "flannel-server unreachable at %s: %s", url, cause);
		remote_failed(w->e, w->ep);
	}
	return rc;
}

int remote_watch_open(struct etcd *e, const char *key, int64_t start_rev, etcd_watch_cb cb,
		      void *arg, struct remote_watch **out)
{
	struct remote_watch *w = fl_calloc(1, sizeof(*w));
	const char *leaf;
	int rc;

	*out = NULL;
	if (!w)
		return ETCD_ERR_NOMEM;
	w->e = e;
	w->cb = cb;
	w->arg = arg;
	w->cursor = start_rev > 0 ? start_rev - 1 : 0;
	w->body.max = 256u << 20;
	if (remote_path(e, key, w->path, sizeof(w->path), &leaf) < 0 || !leaf ||
	    snprintf(w->dir, sizeof(w->dir), "%.*s", (int)(leaf - key), key) >=
		    (int)sizeof(w->dir)) {
		free(w);
		return remote_refuse(e, "a watch other than of leases");
	}
	rc = poll_open(w);
	if (rc != ETCD_OK) {
		free(w);
		return rc;
	}
	*out = w;
	return ETCD_OK;
}

/* One answer: its events, then a progress notice at its cursor; a snapshot
 * means the cursor was too old (compacted, or older than the server's memory). */
static int deliver(struct remote_watch *w, json_t *o)
{
	json_t *events = json_object_get(o, "events"), *ev;
	const char *cur = json_string_value(json_object_get(o, "cursor"));
	int64_t cursor = cur ? strtoll(cur, NULL, 10) : -1;
	struct etcd_watch_event pe = { .type = EW_PROGRESS };
	size_t i;
	int rc;

	if (!cur || cursor < 0) {
		etcd_set_error(w->e, "flannel-server answered a watch without a cursor");
		return ETCD_ERR_PROTO;
	}
	if (json_array_size(events) == 0) {
		struct etcd_watch_event ce = { .type = EW_COMPACTED, .revision = cursor };

		return w->cb(w->arg, &ce);
	}
	json_array_foreach(events, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		struct etcd_watch_event we = { .revision = cursor };

		if (!type || (strcmp(type, "added") && strcmp(type, "removed")))
			continue;
		we.type = strcmp(type, "added") == 0 ? EW_PUT : EW_DELETE;
		rc = remote_kv_of(w->e, w->dir, json_object_get(ev, "lease"), cursor, &we.kv);
		if (rc == ETCD_ERR_PROTO)
			continue;
		if (rc != ETCD_OK)
			return rc;
		/* A removal's lease is what the key held. */
		if (we.type == EW_DELETE && we.kv.value) {
			we.prev_kv = we.kv;
			we.has_prev = true;
			we.kv.value = NULL;
			we.kv.value_len = 0;
			we.prev_kv.key = fl_strdup(we.kv.key);
			if (!we.prev_kv.key) {
				etcd_kv_clear(&we.kv);
				free(we.prev_kv.value);
				return ETCD_ERR_NOMEM;
			}
		}
		rc = w->cb(w->arg, &we);
		etcd_kv_clear(&we.kv);
		etcd_kv_clear(&we.prev_kv);
		if (rc)
			return rc;
	}
	w->cursor = cursor > w->cursor ? cursor : w->cursor;
	pe.revision = w->cursor;
	return w->cb(w->arg, &pe);
}

static int answered(struct remote_watch *w, int http)
{
	json_t *o;
	int rc;

	w->st->ops->stream_close(w->st);
	w->st = NULL;
	if (http != 200) {
		int n = (int)(w->body.len > 200 ? 200 : w->body.len);

		etcd_set_error(w->e, "flannel-server answered the watch with %d: %.*s", http, n,
			       w->body.len ? w->body.data : "");
		return http == 403 ? ETCD_ERR_AUTH : ETCD_ERR_UNAVAILABLE;
	}
	o = json_loadb(w->body.data ? w->body.data : "", w->body.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		etcd_set_error(w->e, "flannel-server answered the watch with something not JSON");
		return ETCD_ERR_UNAVAILABLE;
	}
	rc = deliver(w, o);
	json_decref(o);
	if (rc)
		return rc;
	return poll_open(w);
}

int remote_watch_poll(struct remote_watch *w, int wake_fd, int timeout_ms)
{
	char cause[256] = "";

	if (!w->created) {
		struct etcd_watch_event ce = { .type = EW_CREATED, .revision = w->cursor };
		int rc = w->cb(w->arg, &ce);

		w->created = true;
		if (rc)
			return rc;
	}
	for (int round = 0; round < 2; round++) {
		int http = 0, rc;

		if (!w->st)
			return ETCD_ERR_UNAVAILABLE;
		rc = w->st->ops->stream_read(w->st, &http, cause, sizeof(cause));
		if (rc == HTTP_DONE) {
			rc = answered(w, http);
			if (rc)
				return rc;
			continue;
		}
		if (rc != HTTP_OK) {
			etcd_set_error(w->e, "flannel-server watch ended: %s", cause);
			remote_failed(w->e, w->ep);
			return rc == HTTP_ERR_NOMEM ? ETCD_ERR_NOMEM : ETCD_ERR_UNAVAILABLE;
		}
		if (round == 0 && w->st->ops->stream_wait(w->st, wake_fd, timeout_ms))
			return ETCD_OK;
	}
	return ETCD_OK;
}

void remote_watch_close(struct remote_watch *w)
{
	if (!w)
		return;
	if (w->st)
		w->st->ops->stream_close(w->st);
	buf_free(&w->body);
	free(w);
}
