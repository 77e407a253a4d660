/* watch.c - snapshot (paged, at one revision), sync, then live changes. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/acquire.h"
#include "etcd/etcd_cli.h"
#include "etcd/watch.h"
#include "model/env.h"
#include "model/event.h"

/* Re-read our own subnet from subnet.env when the file changed. */
static void refresh_self(struct lease_watch *w)
{
	struct subnet_env env;
	struct stat st;
	int64_t now = mono_ms();

	if (!w->subnet_file || now - w->self_checked_ms < 200)
		return;
	w->self_checked_ms = now;
	if (stat(w->subnet_file, &st) < 0) {
		memset(&w->self4, 0, sizeof(w->self4));
		memset(&w->self6, 0, sizeof(w->self6));
		return;
	}
	if ((long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == w->self_mtime)
		return;
	w->self_mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	if (env_read(w->subnet_file, &env) == 0) {
		w->self4 = env.subnet;
		w->self6 = env.subnet6;
	}
}

static bool is_self(struct lease_watch *w, const struct lease *l)
{
	refresh_self(w);
	if (addr_is_set(&w->self4.addr) && addr_is_set(&l->subnet.addr))
		return prefix_equal(&w->self4, &l->subnet);
	if (addr_is_set(&w->self6.addr) && addr_is_set(&l->subnet6.addr))
		return prefix_equal(&w->self6, &l->subnet6);
	return false;
}

/* The state file: etcd as we last saw it (err: what failed, or NULL). */
static void publish(struct lease_watch *w, const char *err)
{
	state_etcd(w->state, etcd_endpoint(w->e), etcd_last_contact(w->e), err);
	state_tick(w->state);
}

static int emit(struct lease_watch *w, const struct event *ev)
{
	state_count(w->state, STATE_EVENTS, ev->type == EV_ADDED || ev->type == EV_REMOVED);
	/* Snapshot lines go out in blocks; everything else at once. */
	if ((w->in_snapshot ? event_print(w->out, ev) : event_write(w->out, ev)) < 0) {
		w->out_err = FL_ERR_IO; /* EPIPE included */
		log_err("write event: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int emit_marker(struct lease_watch *w, enum event_type t)
{
	struct event ev;

	event_init(&ev);
	ev.type = t;
	ev.revision = w->rev;
	return emit(w, &ev);
}

/* Build an event from a key and (for added) its value; -1 to skip it.
 * quiet: a removal's previous value, already reported when it was put. */
static int event_from_kv(struct lease_watch *w, const struct etcd_kv *kv, bool with_value,
			 bool quiet, struct event *ev)
{
	char base[512], why[256], key[LOG_ESC_MAX];

	if (acquire_key(w->prefix, "", base, sizeof(base)) < 0 ||
	    subnet_key_of(base, kv->key, kv->key_len, &ev->lease.subnet, &ev->lease.subnet6) < 0) {
		log_warn("skip key %s: not a subnet lease key",
			 log_escape(kv->key, kv->key_len, key, sizeof(key)));
		return -1;
	}
	snprintf(ev->key, sizeof(ev->key), "%s", kv->key + strlen(base));
	ev->lease.self = is_self(w, &ev->lease);
	if (!with_value)
		return 0;
	if (kv->value_len > LEASE_VALUE_MAX) {
		if (!quiet)
			log_warn("skip lease %s: value of %zu bytes is over the limit of %u",
				 log_escape(kv->key, kv->key_len, key, sizeof(key)), kv->value_len,
				 LEASE_VALUE_MAX);
		return -1;
	}
	if (lease_parse_value(&ev->lease, kv->value, kv->value_len, why, sizeof(why)) < 0) {
		if (!quiet)
			log_warn("skip lease %s: %s",
				 log_escape(kv->key, kv->key_len, key, sizeof(key)), why);
		return -1;
	}
	if (lease_drop_unusable_v6(&ev->lease, why, sizeof(why)) && !quiet)
		log_warn("lease %s: %s", log_escape(kv->key, kv->key_len, key, sizeof(key)), why);
	if (lease_validate(&ev->lease, why, sizeof(why)) < 0) {
		if (!quiet)
			log_warn("skip lease %s: %s",
				 log_escape(kv->key, kv->key_len, key, sizeof(key)), why);
		return -1;
	}
	ev->has_attrs = true;
	ev->lease.lease_id = kv->lease;
	ev->lease.mod_revision = kv->mod_revision;
	if (w->expirations && kv->lease) {
		int64_t ttl;

		if (etcd_lease_ttl(w->e, kv->lease, &ttl) == ETCD_OK)
			ev->lease.expiration = time(NULL) + ttl;
	}
	return 0;
}

static int on_snapshot_kv(void *arg, const struct etcd_kv *kv)
{
	struct lease_watch *w = arg;
	struct event ev;
	int rc = 0;

	event_init(&ev);
	ev.type = EV_ADDED;
	if (event_from_kv(w, kv, true, false, &ev) == 0) {
		ev.revision = kv->mod_revision;
		rc = emit(w, &ev);
		w->leases++;
	} else {
		w->skipped++;
		state_count(w->state, STATE_SKIPPED, 1);
	}
	event_clear(&ev);
	return rc;
}

static int snapshot(struct lease_watch *w)
{
	char base[512], cfg[512], *end;
	struct etcd_kv kv;
	int rc;

	if (acquire_key(w->prefix, "", base, sizeof(base)) < 0)
		return ETCD_ERR_USAGE;
	/* The revision of the snapshot: every page is read at it. */
	snprintf(cfg, sizeof(cfg), "%s/config", w->prefix);
	rc = etcd_get(w->e, cfg, &kv, &w->rev);
	if (rc == ETCD_OK)
		etcd_kv_clear(&kv);
	else if (rc != ETCD_NOTFOUND)
		return rc;
	if (emit_marker(w, EV_SNAPSHOT) < 0)
		return ETCD_ERR_USAGE;
	state_unsynced(w->state);
	end = etcd_prefix_end(base);
	if (!end)
		return ETCD_ERR_NOMEM;
	w->leases = w->skipped = 0;
	w->in_snapshot = true;
	rc = etcd_range_all(w->e, base, end, w->page, on_snapshot_kv, w, &w->rev);
	w->in_snapshot = false;
	free(end);
	if (w->out_err)
		return ETCD_ERR_USAGE;
	if (rc != ETCD_OK)
		return rc;
	log_info("snapshot at revision %lld: %lu leases, %lu skipped", (long long)w->rev,
		 w->leases, w->skipped);
	if (emit_marker(w, EV_SYNC) < 0)
		return ETCD_ERR_USAGE;
	state_synced(w->state, w->rev);
	publish(w, NULL);
	return ETCD_OK;
}

struct session {
	struct lease_watch *w;
	bool compacted;
};

static int on_change(void *arg, const struct etcd_watch_event *we)
{
	struct session *s = arg;
	struct lease_watch *w = s->w;
	struct event ev;
	int rc = 0;

	if (we->type == EW_COMPACTED) {
		s->compacted = true;
		return 1;
	}
	if (we->type == EW_PUT || we->type == EW_DELETE) {
		event_init(&ev);
		ev.type = we->type == EW_PUT ? EV_ADDED : EV_REMOVED;
		ev.revision = we->kv.mod_revision;
		if (event_from_kv(w, &we->kv, we->type == EW_PUT, false, &ev) == 0) {
			/* A removal carries what the lease held, when etcd still has it. */
			if (we->type == EW_DELETE && we->has_prev) {
				struct event prev;

				event_init(&prev);
				if (event_from_kv(w, &we->prev_kv, true, true, &prev) == 0) {
					prev.type = EV_REMOVED;
					prev.revision = ev.revision;
					event_clear(&ev);
					ev = prev;
				} else {
					event_clear(&prev);
				}
			}
			rc = emit(w, &ev);
		} else {
			state_count(w->state, STATE_SKIPPED, we->type == EW_PUT);
		}
		event_clear(&ev);
		if (rc)
			return 1;
	}
	if (we->type == EW_CREATED) {
		w->connected = true;
		if (w->retries)
			log_notice("watch leases: etcd reachable again after %lu failed attempts; "
				   "resumed from revision %lld", w->retries, (long long)w->rev + 1);
		w->retries = 0;
	}
	/* A progress notice vouches for everything up to its revision; the
	 * creation answer does not (older events may still be on their way). */
	if (we->type == EW_PROGRESS && we->revision > w->rev)
		w->rev = we->revision;
	else if ((we->type == EW_PUT || we->type == EW_DELETE) && we->kv.mod_revision > w->rev)
		w->rev = we->kv.mod_revision;
	return 0;
}

enum { WATCH_STOP = -100, WATCH_RESNAP = -101 };

static int stream(struct lease_watch *w)
{
	struct session s = { .w = w };
	struct etcd_watch *wt = NULL;
	char base[512], *end;
	int rc;

	if (acquire_key(w->prefix, "", base, sizeof(base)) < 0 || !(end = etcd_prefix_end(base)))
		return FL_ERR_INTERNAL;
	rc = etcd_watch_open(w->e, base, end, w->rev + 1, true, on_change, &s, &wt);
	free(end);
	if (rc != ETCD_OK)
		return rc;
	etcd_watch_set_wakeup_fd(wt, sig_fd());
	do {
		if (sig_stop_requested()) {
			rc = WATCH_STOP;
			break;
		}
		rc = etcd_watch_poll(wt, 1000);
		publish(w, NULL);
	} while (rc == ETCD_OK);
	etcd_watch_close(wt);
	if (w->out_err)
		return w->out_err;
	if (s.compacted || rc == ETCD_ERR_COMPACTED)
		return WATCH_RESNAP;
	return rc;
}

int lease_watch_run(struct lease_watch *w)
{
	int64_t backoff = 0;
	bool need_snapshot = true, synced = false;
	int rc;

	for (;;) {
		if (backoff && sig_pause_ms(backoff))
			return 0;
		if (need_snapshot) {
			rc = snapshot(w);
			if (w->out_err)
				return w->out_err;
			if (rc == ETCD_ERR_AUTH || rc == ETCD_ERR_USAGE || rc == ETCD_ERR_NOMEM ||
			    (w->once && rc != ETCD_OK)) {
				/* Retrying cannot fix these; --once must not hang. */
				log_err("read leases: %s", etcd_error(w->e));
				return etcd_err(rc);
			}
			if (rc != ETCD_OK) {
				publish(w, etcd_error(w->e));
				log_warn("read leases: %s; retrying", etcd_error(w->e));
				backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
				continue;
			}
			need_snapshot = false;
			if (!synced && w->synced)
				w->synced(w->synced_arg);
			synced = true;
			if (w->once)
				return 0;
		}
		w->connected = false;
		rc = stream(w);
		if (w->connected)
			backoff = 0;
		if (rc == WATCH_STOP)
			return 0;
		if (rc > 0)
			return rc;
		if (rc == ETCD_ERR_AUTH) {
			log_err("watch leases: %s", etcd_error(w->e));
			return etcd_err(rc);
		}
		if (rc == WATCH_RESNAP) {
			log_notice("revision %lld was compacted away: sending a new snapshot",
				   (long long)w->rev + 1);
			need_snapshot = true;
			backoff = 0;
			continue;
		}
		w->retries++;
		state_count(w->state, STATE_RESTARTS, 1);
		publish(w, etcd_error(w->e));
		log_warn("watch leases: %s; retrying, resuming from revision %lld", etcd_error(w->e),
			 (long long)w->rev + 1);
		backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
	}
}
