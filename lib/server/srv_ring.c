/* srv_ring.c - the shared watch: a thread that follows every key under the
 * prefix and keeps the latest RING_CAP changes for the long polls. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "server/srv_ring.h"

static void ev_free(struct ring_ev *ev)
{
	free(ev->key);
	free(ev->val);
	free(ev->prev);
	memset(ev, 0, sizeof(*ev));
}

/* Forget everything: the ring starts again at rev (a compaction, or the start). */
static void ring_reset(struct ring *r, int64_t rev)
{
	for (size_t i = 0; i < r->n; i++)
		ev_free(&r->ev[(r->first + i) % RING_CAP]);
	r->first = r->n = 0;
	r->start_rev = r->head_rev = rev;
}

static char *dupn(const char *s, size_t n, int *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = fl_strndup(s, n);
	if (!d)
		*bad = 1;
	return d;
}

static int on_change(void *arg, const struct etcd_watch_event *we)
{
	struct ring *r = arg;
	struct ring_ev ev = { 0 };
	int bad = 0;

	if (we->type == EW_COMPACTED)
		return 1;
	if (we->type == EW_CANCELED)
		return 3; /* reopened from the head */
	if (we->type == EW_PROGRESS) {
		pthread_mutex_lock(&r->mu);
		if (we->revision > r->head_rev)
			r->head_rev = we->revision;
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	if (we->type != EW_PUT && we->type != EW_DELETE)
		return 0;
	ev.rev = we->kv.mod_revision;
	ev.del = we->type == EW_DELETE;
	ev.key = dupn(we->kv.key, we->kv.key_len, &bad);
	ev.key_len = we->kv.key_len;
	ev.lease = we->kv.lease;
	if (!ev.del) {
		ev.val = dupn(we->kv.value, we->kv.value_len, &bad);
		ev.val_len = we->kv.value_len;
	}
	if (we->has_prev) {
		ev.prev = dupn(we->prev_kv.value, we->prev_kv.value_len, &bad);
		ev.prev_len = we->prev_kv.value_len;
	}
	if (bad) {
		ev_free(&ev);
		return 2; /* out of memory: start again from a snapshot */
	}
	pthread_mutex_lock(&r->mu);
	if (r->n == RING_CAP) {
		struct ring_ev *old = &r->ev[r->first];

		r->start_rev = old->rev;
		ev_free(old);
		r->first = (r->first + 1) % RING_CAP;
		r->n--;
	}
	r->ev[(r->first + r->n) % RING_CAP] = ev;
	r->n++;
	if (ev.rev > r->head_rev)
		r->head_rev = ev.rev;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static void wake(struct ring *r)
{
	char c = 1;

	if (write(r->wake[1], &c, 1) < 0 && errno != EAGAIN)
		log_warn("wake the server loop: %s", strerror(errno));
}

static int current_rev(struct ring *r, int64_t *rev)
{
	struct etcd_kv kv;
	int rc = etcd_get(r->e, r->prefix, &kv, rev);

	if (rc == ETCD_OK)
		etcd_kv_clear(&kv);
	return rc == ETCD_OK || rc == ETCD_NOTFOUND ? 0 : -1;
}

static void *ring_main(void *arg)
{
	struct ring *r = arg;
	char *end = etcd_prefix_end(r->prefix);
	int64_t backoff = 0;

	while (end && !r->stop) {
		struct etcd_watch *w = NULL;
		int64_t from;
		int rc;

		if (backoff)
			usleep((useconds_t)backoff * 1000);
		pthread_mutex_lock(&r->mu);
		from = r->head_rev + 1;
		pthread_mutex_unlock(&r->mu);
		if (etcd_watch_open(r->e, r->prefix, end, from, true, on_change, r, &w) != ETCD_OK) {
			log_warn("watch %s: %s; retrying", r->prefix, etcd_error(r->e));
			backoff = backoff ? (backoff * 2 > 2000 ? 2000 : backoff * 2) : 100;
			continue;
		}
		backoff = 0;
		do {
			int64_t before;

			pthread_mutex_lock(&r->mu);
			before = r->head_rev;
			pthread_mutex_unlock(&r->mu);
			rc = etcd_watch_poll(w, 250);
			pthread_mutex_lock(&r->mu);
			before = r->head_rev != before;
			pthread_mutex_unlock(&r->mu);
			if (before)
				wake(r);
		} while (rc == ETCD_OK && !r->stop);
		etcd_watch_close(w);
		if (rc == 1 || rc == 2 || rc == ETCD_ERR_COMPACTED) {
			int64_t now = 0;

			/* The changes in between are gone: every cursor gets a snapshot. */
			if (current_rev(r, &now) == 0) {
				log_warn("watch %s: changes were compacted away; the long polls get "
					 "snapshots from revision %lld", r->prefix, (long long)now);
				pthread_mutex_lock(&r->mu);
				ring_reset(r, now);
				pthread_mutex_unlock(&r->mu);
				wake(r);
			} else {
				backoff = 500;
			}
		} else if (rc == 3) {
			backoff = 100;
		} else if (rc != ETCD_OK) {
			log_warn("watch %s: %s; resuming", r->prefix, etcd_error(r->e));
			backoff = 100;
		}
	}
	free(end);
	return NULL;
}

int ring_start(struct ring *r, const struct etcd_opts *o, const char *prefix, char *err,
	       size_t errlen)
{
	size_t n = strlen(prefix);
	int64_t rev = 0;

	memset(r, 0, sizeof(*r));
	r->wake[0] = r->wake[1] = -1;
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (snprintf(r->prefix, sizeof(r->prefix), "%.*s/", (int)n, prefix) >=
	    (int)sizeof(r->prefix)) {
		snprintf(err, errlen, "prefix %s is too long", prefix);
		return -1;
	}
	r->ev = fl_calloc(RING_CAP, sizeof(*r->ev));
	if (!r->ev || pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "%s", strerror(r->ev ? errno : ENOMEM));
		return -1;
	}
	if (etcd_open(o, &r->e, err, errlen) != ETCD_OK)
		return -1;
	if (current_rev(r, &rev) < 0) {
		snprintf(err, errlen, "%s", etcd_error(r->e));
		return -1;
	}
	pthread_mutex_init(&r->mu, NULL);
	ring_reset(r, rev);
	if (pthread_create(&r->th, NULL, ring_main, r) != 0) {
		snprintf(err, errlen, "start the watch thread: %s", strerror(errno));
		return -1;
	}
	r->started = true;
	return 0;
}

void ring_stop(struct ring *r)
{
	if (r->started) {
		r->stop = 1;
		pthread_join(r->th, NULL);
		pthread_mutex_destroy(&r->mu);
		r->started = false;
	}
	if (r->ev) {
		ring_reset(r, 0);
		free(r->ev);
		r->ev = NULL;
	}
	etcd_close(r->e);
	r->e = NULL;
	for (int i = 0; i < 2; i++)
		if (r->wake[i] >= 0)
			close(r->wake[i]);
	r->wake[0] = r->wake[1] = -1;
}

int ring_fd(const struct ring *r)
{
	return r->wake[0];
}

void ring_drain(struct ring *r)
{
	char b[256];

	while (read(r->wake[0], b, sizeof(b)) > 0)
		;
}

int ring_since(struct ring *r, int64_t cursor, void (*emit)(void *arg, const struct ring_ev *ev),
	       void *arg, int64_t *head)
{
	int count = 0;

	pthread_mutex_lock(&r->mu);
	*head = r->head_rev;
	if (cursor < r->start_rev) {
		pthread_mutex_unlock(&r->mu);
		return -1;
	}
	/* From the newest back to the cursor, then forwards: a parked poll
	 * looks at the new changes only. */
	size_t i = r->n;

	while (i > 0 && r->ev[(r->first + i - 1) % RING_CAP].rev > cursor)
		i--;
	for (; i < r->n; i++) {
		emit(arg, &r->ev[(r->first + i) % RING_CAP]);
		count++;
	}
	pthread_mutex_unlock(&r->mu);
	return count;
}

int64_t ring_head(struct ring *r)
{
	int64_t h;

	pthread_mutex_lock(&r->mu);
	h = r->head_rev;
	pthread_mutex_unlock(&r->mu);
	return h;
}
