/* lease_keep.c - the life of this host's lease. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/etcd_cli.h"
#include "etcd/lease_keep.h"
#include "model/event.h"

/* Our lease as an event line's object, "type" set to type. */
static json_t *lease_json(struct lease_keep *k, const char *type)
{
	struct event ev;
	json_t *o;

	event_init(&ev);
	ev.type = EV_ADDED;
	ev.lease = k->cur; /* borrowed, not freed */
	ev.revision = k->rev;
	snprintf(ev.key, sizeof(ev.key), "%s", k->key);
	o = event_to_json(&ev);
	if (o && json_object_set_new(o, "type", json_string(type)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The state file: the lease, its TTL, etcd as we last saw it. */
static void publish(struct lease_keep *k)
{
	char net[ADDR_STRLEN];
	json_t *o;

	if (!k->state)
		return;
	o = lease_json(k, "lease");
	if (o)
		json_object_set_new(o, "ttl", json_integer((json_int_t)k->acq.ttl));
	state_set(k->state, "lease", o);
	if (k->acq.cfg->enable_ipv4)
		state_set_str(k->state, "network",
			      prefix_format(&k->acq.cfg->network, net, sizeof(net)));
	if (k->acq.cfg->enable_ipv6)
		state_set_str(k->state, "ipv6_network",
			      prefix_format(&k->acq.cfg->network6, net, sizeof(net)));
	state_etcd(k->state, etcd_endpoint(k->acq.e), etcd_last_contact(k->acq.e),
		   k->down_ms || k->renew_failures ? etcd_error(k->acq.e) : NULL);
	state_tick(k->state);
}

/* A JSON line such as {"type":"acquired","how":"new","key":...}. */
static int report(struct lease_keep *k, const char *type, const char *how)
{
	json_t *o;
	int rc;

	publish(k);
	if (!k->out)
		return 0;
	o = lease_json(k, type);
	if (!o ||
	    (how && json_object_set_new(o, "how", json_string(how)) < 0)) {
		json_decref(o);
		return FL_ERR_OS;
	}
	rc = json_dumpf(o, k->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (rc < 0 || fputc('\n', k->out) == EOF || fflush(k->out) == EOF) {
		log_err("write lease event: %s", strerror(errno));
		return FL_ERR_IO;
	}
	return 0;
}

static int write_env(struct lease_keep *k)
{
	const struct net_config *c = k->acq.cfg;
	struct subnet_env e = { 0 };

	if (c->enable_ipv4) {
		e.network = c->network;
		e.subnet = k->cur.subnet;
	}
	if (c->enable_ipv6) {
		e.network6 = c->network6;
		e.subnet6 = k->cur.subnet6;
	}
	e.mtu = k->mtu;
	e.ipmasq = k->ipmasq;
	if (env_write(k->subnet_file, &e) < 0) {
		log_err("write %s: %s", k->subnet_file, strerror(errno));
		return errno == EACCES || errno == EPERM ? FL_ERR_PERM : FL_ERR_CANTCREAT;
	}
	return 0;
}

static int status_exit(struct lease_keep *k, int rc, const char *what)
{
	if (rc == ACQUIRE_FULL) {
		log_err("%s: %s", what, k->acq.err);
		return FL_ERR_TEMP;
	}
	log_err("%s: %s", what, k->acq.err[0] ? k->acq.err : etcd_error(k->acq.e));
	return etcd_err(rc);
}

static int acquire_and_write(struct lease_keep *k, const char *type)
{
	char sub[ADDR_STRLEN];
	int rc = acquire_lease(&k->acq, &k->cur, k->key, sizeof(k->key), &k->rev);

	if (rc != ETCD_OK)
		return status_exit(k, rc, "acquire lease");
	log_notice("%s lease %s, subnet %s (%s)", type, k->key,
		   addr_is_set(&k->cur.subnet.addr) ?
			   prefix_format(&k->cur.subnet, sub, sizeof(sub)) :
			   prefix_format(&k->cur.subnet6, sub, sizeof(sub)),
		   k->acq.note);
	rc = write_env(k);
	if (!rc)
		state_synced(k->state, k->rev);
	return rc ? rc : report(k, type, k->acq.note);
}

struct watch_state {
	struct lease_keep *k;
	bool lost, compacted;
	int64_t rev;
};

static int on_watch(void *arg, const struct etcd_watch_event *ev)
{
	struct watch_state *s = arg;
	struct lease l;
	char why[128];

	if (ev->revision > s->rev)
		s->rev = ev->revision;
	if (ev->type == EW_COMPACTED)
		s->compacted = true;
	if (ev->type == EW_DELETE)
		s->lost = true;
	if (ev->type != EW_PUT)
		return 0;
	lease_init(&l);
	/* Someone else wrote our key: is it still ours? */
	if (lease_parse_value(&l, ev->kv.value, ev->kv.value_len, why, sizeof(why)) < 0 ||
	    !addr_equal(&l.public_ip, &s->k->cur.public_ip)) {
		log_warn("lease %s was overwritten by another writer", s->k->key);
		s->lost = true;
	} else {
		s->k->cur.lease_id = ev->kv.lease;
	}
	lease_clear(&l);
	return 0;
}

/* etcd answers again after failing: say so, once. */

/* Renew when the margin is reached; on failure try again soon. */
static int renew_if_due(struct lease_keep *k, int64_t *next, bool *lost)
{
	time_t now = time(NULL);
	int rc;

	if (!k->cur.lease_id || now < *next)
		return 0;
	rc = acquire_renew(&k->acq, &k->cur);
	if (rc == ETCD_NOTFOUND) {
		log_warn("lease %s expired in etcd", k->key);
		state_unsynced(k->state);
		*lost = true;
		return 0;
	}
	if (rc != ETCD_OK) {
		int64_t left = k->cur.expiration - now;

		k->renew_failures++;
		state_count(k->state, STATE_ERRORS, 1);
		publish(k);
		log_warn("renew lease %s: %s (%lld s left); retrying", k->key, k->acq.err,
			 (long long)left);
		*next = now + (left > 120 ? 60 : left > 2 ? left / 2 : 1);
		return 0;
	}
	if (k->renew_failures)
		log_notice("renewed lease %s after %lu failed attempts", k->key, k->renew_failures);
	k->renew_failures = 0;
	log_info("renewed lease %s until %lld", k->key, (long long)k->cur.expiration);
	*next = k->cur.expiration - k->margin_s;
	return report(k, "renewed", NULL);
}

static int reacquire(struct lease_keep *k)
{
	state_count(k->state, STATE_RESTARTS, 1);
	log_notice("lease %s vanished from etcd: acquiring again, preferring the same subnet",
		   k->key);
	k->acq.hint = k->cur.subnet;
	k->acq.hint6 = k->cur.subnet6;
	return acquire_and_write(k, "reacquired");
}

enum { SESSION_STOP = -1, SESSION_RECONNECT = -2, SESSION_LOST = -3, SESSION_DOWN = -4 };

/* Watch our key and renew on time until something needs the caller. */
static int watch_session(struct lease_keep *k, int64_t *next_renew)
{
	struct watch_state s = { .k = k, .rev = k->rev };
	struct etcd_watch *w = NULL;
	char full[512];
	int rc;

	if (acquire_key(k->acq.prefix, k->key, full, sizeof(full)) < 0)
		return FL_ERR_INTERNAL;
	rc = etcd_watch_open(k->acq.e, full, NULL, k->rev + 1, false, on_watch, &s, &w);
	if (rc != ETCD_OK)
		return rc == ETCD_ERR_NOMEM ? FL_ERR_OS : SESSION_DOWN;
	if (k->down_ms) {
		log_notice("etcd reachable again after %.1f s: recovered, lease %s kept "
			   "(%lu failed tries)", (double)(mono_ms() - k->down_ms) / 1e3, k->key,
			   k->down_tries);
		k->down_ms = 0;
		k->down_tries = 0;
		publish(k);
	}
	etcd_watch_set_wakeup_fd(w, sig_fd());
	while (!s.lost && !s.compacted) {
		int64_t wait = (*next_renew - time(NULL)) * 1000;

		if (sig_stop_requested()) {
			rc = SESSION_STOP;
			goto out;
		}
		rc = etcd_watch_poll(w, (int)(wait > 1000 ? 1000 : wait > 0 ? wait : 0));
		state_tick(k->state);
		if (s.rev > k->rev)
			k->rev = s.rev;
		if (rc != ETCD_OK) {
			log_debug("watch of %s: %s; reconnecting", k->key, etcd_error(k->acq.e));
			rc = SESSION_RECONNECT;
			goto out;
		}
		rc = renew_if_due(k, next_renew, &s.lost);
		if (rc)
			goto out;
	}
	rc = SESSION_LOST;
	if (s.compacted) {
		struct etcd_kv kv;
		int g = etcd_get(k->acq.e, full, &kv, &k->rev);

		if (g == ETCD_OK)
			etcd_kv_clear(&kv);
		rc = g == ETCD_NOTFOUND ? SESSION_LOST : SESSION_RECONNECT;
	}
out:
	etcd_watch_close(w);
	return rc;
}

/* Said at every verbosity: when etcd went away, and every 30 s after. */
static void note_unreachable(struct lease_keep *k)
{
	int64_t now = mono_ms();

	if (!k->down_ms)
		k->down_ms = now;
	state_count(k->state, STATE_ERRORS, 1);
	publish(k);
	if (++k->down_tries == 1) {
		k->down_logged_ms = now;
		log_warn("etcd unreachable: %s; retrying, the lease and subnet stay in use",
			 etcd_error(k->acq.e));
	} else if (now - k->down_logged_ms >= 30000) {
		k->down_logged_ms = now;
		log_warn("etcd still unreachable after %lld s (%lu tries): %s; retrying",
			 (long long)((now - k->down_ms) / 1000), k->down_tries,
			 etcd_error(k->acq.e));
	}
}

int lease_keep_run(struct lease_keep *k)
{
	int64_t next_renew, backoff = 0;
	bool lost = false;
	int rc = acquire_and_write(k, "acquired");

	if (rc || k->oneshot)
		return rc;
	if (k->ready)
		k->ready(k->ready_arg);
	next_renew = k->cur.expiration - k->margin_s;
	for (;;) {
		if (backoff && sig_pause_ms(backoff))
			return 0;
		if (lost) {
			rc = reacquire(k);
			if (rc == FL_ERR_UNAVAILABLE) {
				/* etcd is away; the subnet stays in use here meanwhile. */
				backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
				continue;
			}
			if (rc)
				return rc;
			lost = false;
			next_renew = k->cur.expiration - k->margin_s;
		}
		/* A renewal due while etcd is away is tried on its own schedule. */
		if (!lost && (rc = renew_if_due(k, &next_renew, &lost)) != 0)
			return rc;
		if (lost)
			continue;
		rc = watch_session(k, &next_renew);
		if (rc == SESSION_STOP) {
			log_info("stopping: the lease stays in etcd");
			return 0;
		}
		if (rc > 0)
			return rc;
		if (rc == SESSION_LOST) {
			lost = true;
			backoff = 0;
		} else {
			if (rc == SESSION_DOWN)
				note_unreachable(k);
			else if (!k->down_ms) /* the stream broke: say when it is back */
				k->down_ms = k->down_logged_ms = mono_ms();
			backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
		}
	}
}

