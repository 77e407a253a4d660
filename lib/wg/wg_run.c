/* wg_run.c - flannel-wireguard.  init: the key, the device (reused when it
 * is there, so a restart keeps its peers and sessions), its private key and
 * port; prints {"PublicKey":..,"Port":N}.  apply: our subnet's network
 * address /32, MTU (underlay less 60), up, one route for the Network; one
 * peer per remote lease; the device reconciled against what the leases
 * want every few seconds (a peer removed by hand comes back, stale peers go
 * after a sync); a peer that sends but gets no handshake is reported. */
#include <errno.h>
#include <jansson.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "base/htab.h"
#include "base/log.h"
#include "model/env.h"
#include "model/event_stream.h"
#include "model/gojson.h"
#include "netlink/iface.h"
#include "netlink/nl.h"
#include "wg/wg_run.h"
#include "status/state.h"

static int load_key(const struct wg_opts *o, uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	char err[300];
	bool created;

	if (wg_key_load(o->key_file, priv, &created, err, sizeof(err)) < 0) {
		log_err("private key: %s", err);
		return EX_CONFIG;
	}
	if (wg_key_public(priv, pub) < 0) {
		log_err("derive the public key of %s: OpenSSL's X25519 failed", o->key_file);
		return EX_SOFTWARE;
	}
	log_notice("%s private key %s", created ? "created" : "reusing", o->key_file);
	return 0;
}

/* The device, with our key and port (peers untouched). */
static int open_device(const struct wg_opts *o, struct wg_drv *w, const uint8_t priv[WG_KEY_LEN])
{
	struct wg_device have, want = { .has_priv = true, .port = o->port };
	char err[400];
	int rc = wg_open(w, o->dev, o->uapi_dir, err, sizeof(err));

	if (rc < 0) {
		log_err("%s", err);
		return rc == -EPERM || rc == -EACCES ? EX_NOPERM : EX_UNAVAILABLE;
	}
	rc = wg_get(w, &have, err, sizeof(err));
	if (rc < 0) {
		log_err("read %s: %s", o->dev, err);
		wg_close(w);
		return EX_UNAVAILABLE;
	}
	if (!have.has_priv || memcmp(have.priv, priv, WG_KEY_LEN) || have.port != o->port) {
		memcpy(want.priv, priv, WG_KEY_LEN);
		rc = wg_set(w, &want, err, sizeof(err));
		explicit_bzero(want.priv, sizeof(want.priv));
		if (rc < 0) {
			log_err("configure %s: %s", o->dev, err);
			wg_device_clear(&have);
			wg_close(w);
			return rc == -EADDRINUSE ? EX_UNAVAILABLE : EX_OSERR;
		}
	}
	log_notice("%s: %s WireGuard (%s), port %u, %zu peers kept", o->dev, wg_kind_name(w->kind),
		 w->kind == WG_KERNEL ? (w->created ? "created" : "reused") : w->sock, o->port,
		 have.n_peers);
	wg_device_clear(&have);
	return 0;
}

int wg_run_init(const struct wg_opts *o)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	char b64[WG_KEY_B64_LEN + 1];
	struct wg_drv w;
	int rc = load_key(o, priv, pub);

	if (rc == 0)
		rc = open_device(o, &w, priv);
	explicit_bzero(priv, sizeof(priv));
	if (rc != 0)
		return rc;
	wg_close(&w);
	wg_key_to_base64(pub, b64);
	printf("{\"PublicKey\":\"%s\",\"Port\":%u}\n", b64, o->port);
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

/* ---- apply ---- */

struct entry {
	struct prefix subnet;        /* key */
	uint8_t pub[WG_KEY_LEN];
	struct ipaddr endpoint;
	uint16_t port;
	uint32_t gen;
	uint64_t last_tx;            /* at the previous check */
	int64_t sending_since;       /* monotonic s: tx grew without a fresh handshake */
	bool reported;
	bool changed;                /* the lease changed since the device last got it */
};

struct wg_ctl {
	const struct wg_opts *o;
	struct wg_drv w;
	struct nl *nl;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	unsigned mtu;
	struct prefix own, network;
	bool own_set_up;
	struct htab peers;           /* struct entry */
	uint32_t gen;
	bool in_snapshot, dirty, synced;
	int timer_fd;
	struct state *state;
};

static int setup_device(struct wg_ctl *c)
{
	struct nl_addr a = { .ifindex = c->w.ifindex, .pfx = { .addr = c->own.addr, .len = 32 } };
	struct nl_route r = { .dst = c->network, .oif = (uint32_t)c->w.ifindex,
			      .protocol = RTPROT_FLANNEL, .scope = RT_SCOPE_LINK,
			      .type = RTN_UNICAST };
	char p[ADDR_STRLEN], q[ADDR_STRLEN];
	int rc;

	if (!c->own.addr.family)
		return 0;
	rc = nl_link_set_mtu(c->nl, c->w.ifindex, c->mtu);
	if (rc == 0)
		rc = nl_addr_change(c->nl, NL_REPLACE, &a);
	if (rc == 0)
		rc = nl_link_set_up(c->nl, c->w.ifindex);
	if (rc == 0 && c->network.addr.family)
		rc = nl_route_change(c->nl, NL_REPLACE, &r);
	if (rc < 0) {
		log_err("configure %s: %s", c->o->dev, nl_strerror(c->nl, rc));
		return rc;
	}
	if (!c->own_set_up)
		log_info("%s: address %s/32, MTU %u, route %s", c->o->dev,
			 addr_format(&c->own.addr, p, sizeof(p)), c->mtu,
			 c->network.addr.family ? prefix_format(&c->network, q, sizeof(q)) : "none");
	c->own_set_up = true;
	return 0;
}

/* What the device should hold for e. */
static void want_peer(const struct wg_ctl *c, const struct entry *e, struct wg_peer *p)
{
	memcpy(p->pub, e->pub, WG_KEY_LEN);
	p->endpoint = e->endpoint;
	p->endpoint_port = e->port;
	p->keepalive = c->o->keepalive;
	p->has_psk = true; /* all zero: none */
	if (c->o->has_psk)
		memcpy(p->psk, c->o->psk, WG_KEY_LEN);
	p->allowed[0] = e->subnet;
	p->n_allowed = 1;
	p->replace_allowed = true;
}

static bool same_peer(const struct wg_peer *want, const struct wg_peer *have)
{
	return addr_equal(&want->endpoint, &have->endpoint) &&
	       want->endpoint_port == have->endpoint_port && want->keepalive == have->keepalive &&
	       !memcmp(want->psk, have->psk, WG_KEY_LEN) && have->n_allowed == 1 &&
	       prefix_equal(&want->allowed[0], &have->allowed[0]);
}

/* All as wanted but the endpoint, and a fresh handshake: the device learned
 * where the peer really is; only a change of the lease sets it again. */
static bool endpoint_roamed(const struct wg_ctl *c, const struct wg_peer *want,
			    const struct wg_peer *have)
{
	struct wg_peer w = *want;

	w.endpoint = have->endpoint;
	w.endpoint_port = have->endpoint_port;
	return have->last_handshake &&
	       (int64_t)time(NULL) - have->last_handshake < (int64_t)c->o->stale_secs &&
	       same_peer(&w, have);
}

static void key_text(const uint8_t k[WG_KEY_LEN], char *b64)
{
	wg_key_to_base64(k, b64);
}

/* The check of one peer's handshake, from a fresh read of the device. */
static void check_handshake(struct wg_ctl *c, struct entry *e, const struct wg_peer *have,
			    int64_t now_mono, bool *resend)
{
	int64_t age = have->last_handshake ? (int64_t)time(NULL) - have->last_handshake : -1;
	char s[ADDR_STRLEN], ep[ADDR_STRLEN], k[WG_KEY_B64_LEN + 1];
	bool sending = have->tx_bytes > e->last_tx;

	e->last_tx = have->tx_bytes;
	if (age >= 0 && age < (int64_t)c->o->stale_secs) {
		if (e->reported)
			log_notice("peer %s: handshake again (%lld s ago)",
				   prefix_format(&e->subnet, s, sizeof(s)), (long long)age);
		e->reported = false;
		e->sending_since = 0;
		return;
	}
	if (!sending)
		return; /* idle: WireGuard makes no handshake without traffic */
	if (!e->sending_since)
		e->sending_since = now_mono;
	if (e->reported || now_mono - e->sending_since < (int64_t)c->o->stale_secs)
		return;
	key_text(e->pub, k);
	log_warn("peer %s (%s:%u, key %s): no handshake %s while sending for %lld s; "
		 "setting its endpoint again", prefix_format(&e->subnet, s, sizeof(s)),
		 addr_format(&e->endpoint, ep, sizeof(ep)), e->port, k,
		 age < 0 ? "ever" : "for minutes", (long long)(now_mono - e->sending_since));
	e->reported = true;
	*resend = true;
}

/* Make the device's peers what the leases want: add and fix; after a sync,
 * remove the peers no lease wants. */
static int reconcile(struct wg_ctl *c, bool check)
{
	struct wg_device have, set = { 0 };
	struct entry *e;
	size_t it = 0;
	char err[400], s[ADDR_STRLEN], k[WG_KEY_B64_LEN + 1];
	int64_t now_mono;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_mono = ts.tv_sec;
	rc = wg_get(&c->w, &have, err, sizeof(err));
	if (rc < 0) {
		log_err("read %s: %s", c->o->dev, err);
		return 0; /* try again at the next tick */
	}
	if (!have.has_priv || memcmp(have.priv, c->priv, WG_KEY_LEN) || have.port != c->o->port) {
		log_notice("%s lost its private key or port (restarted?): setting them again",
			   c->o->dev);
		set.has_priv = true;
		memcpy(set.priv, c->priv, WG_KEY_LEN);
		set.port = c->o->port;
	}
	while ((e = htab_next(&c->peers, &it))) {
		struct wg_peer want = { 0 }, *h = wg_device_find_peer(&have, e->pub), *p;
		bool resend = false;

		want_peer(c, e, &want);
		if (h && check)
			check_handshake(c, e, h, now_mono, &resend);
		if (h && !resend && !e->changed && endpoint_roamed(c, &want, h))
			continue; /* WireGuard follows a peer that moved (NAT): keep it */
		if (h && same_peer(&want, h) && !resend)
			continue;
		p = wg_device_add_peer(&set);
		if (!p) {
			log_err("configure %s: out of memory", c->o->dev);
			break;
		}
		*p = want;
		key_text(e->pub, k);
		log_info("peer %s: %s %s:%u, key %s", prefix_format(&e->subnet, s, sizeof(s)),
			 !h ? "adding" : resend ? "refreshing" : "updating",
			 addr_format(&e->endpoint, err, sizeof(err)), e->port, k);
	}
	for (size_t i = 0; c->synced && !c->in_snapshot && i < have.n_peers; i++) {
		const struct wg_peer *h = &have.peers[i];
		bool wanted = false;
		struct wg_peer *p;

		it = 0;
		while (!wanted && (e = htab_next(&c->peers, &it)))
			wanted = !memcmp(e->pub, h->pub, WG_KEY_LEN);
		if (wanted)
			continue;
		p = wg_device_add_peer(&set);
		if (!p)
			break;
		memcpy(p->pub, h->pub, WG_KEY_LEN);
		p->remove = true;
		key_text(h->pub, k);
		log_info("peer %s: no lease wants it: removing",  k);
	}
	wg_device_clear(&have);
	rc = 0;
	if (set.has_priv || set.n_peers) {
		rc = wg_set(&c->w, &set, err, sizeof(err));
		if (rc < 0)
			log_err("configure the peers of %s: %s", c->o->dev, err);
		for (it = 0; rc < 0 && (e = htab_next(&c->peers, &it));)
			if (e->changed)
				state_refused(c->state, &e->subnet, err);
		state_count(c->state, STATE_ERRORS, rc < 0);
	}
	wg_device_clear(&set);
	if (rc == 0) {
		c->dirty = false;
		it = 0;
		while ((e = htab_next(&c->peers, &it)))
			e->changed = false;
	}
	return 0;
}

static int on_self(struct wg_ctl *c, const struct lease *l)
{
	if (!l->subnet.addr.family || prefix_equal(&l->subnet, &c->own))
		return 0;
	c->own = l->subnet;
	c->own_set_up = false;
	return setup_device(c) < 0 ? -1 : 0;
}

/* BackendData {"PublicKey":"..","Port":N}; Port 0 or missing: ours. */
static int peer_data(const struct wg_ctl *c, json_t *data, uint8_t pub[WG_KEY_LEN],
		     uint16_t *port, char *err, size_t errlen)
{
	json_t *k = json_is_object(data) ? gojson_get(data, "PublicKey") : NULL;
	json_t *p = json_is_object(data) ? gojson_get(data, "Port") : NULL;

	if (!json_is_string(k) || wg_key_from_base64(json_string_value(k), pub) < 0) {
		snprintf(err, errlen, "BackendData has no PublicKey of 32 bytes in base64");
		return -1;
	}
	*port = c->o->port;
	if (p && !json_is_null(p)) {
		if (!json_is_integer(p) || json_integer_value(p) < 0 ||
		    json_integer_value(p) > 65535) {
			snprintf(err, errlen, "BackendData.Port is not within 0..65535");
			return -1;
		}
		if (json_integer_value(p))
			*port = (uint16_t)json_integer_value(p);
	}
	return 0;
}

static void on_added(struct wg_ctl *c, const struct event *ev)
{
	const struct lease *l = &ev->lease;
	char err[200], s[ADDR_STRLEN];
	uint8_t pub[WG_KEY_LEN];
	struct entry *e;
	struct prefix key;
	uint16_t port = 0;
	bool created;

	if (!l->subnet.addr.family) {
		state_refused(c->state, &l->subnet6, "an IPv6-only lease: flannel-wg carries IPv4");
		return;
	}
	err[0] = '\0';
	if (strcmp(l->backend_type, "wireguard") != 0)
		snprintf(err, sizeof(err), "BackendType is \"%s\", not wireguard", l->backend_type);
	else if (subnet_check_remote(&l->subnet, &c->own, &c->network, err, sizeof(err)) == 0 &&
		 addr_is_unusable(&l->public_ip))
		snprintf(err, sizeof(err), "public IP %s is not usable",
			 addr_format(&l->public_ip, s, sizeof(s)));
	if (!err[0])
		peer_data(c, l->backend_data, pub, &port, err, sizeof(err));
	if (err[0]) {
		log_warn("skip lease %s: %s", prefix_format(&l->subnet, s, sizeof(s)), err);
		state_refused(c->state, &l->subnet, err);
		return;
	}
	if (!memcmp(pub, c->pub, WG_KEY_LEN)) {
		log_warn("skip lease %s: it has our own public key",
			 prefix_format(&l->subnet, s, sizeof(s)));
		state_refused(c->state, &l->subnet, "it has our own public key");
		return;
	}
	key = (struct prefix){ .addr = l->subnet.addr, .len = l->subnet.len };
	e = htab_put(&c->peers, &key, &created);
	if (!e) {
		log_err("remember lease %s: out of memory", prefix_format(&key, s, sizeof(s)));
		return;
	}
	if (created || memcmp(e->pub, pub, WG_KEY_LEN) || !addr_equal(&e->endpoint, &l->public_ip) ||
	    e->port != port)
		c->dirty = true;
	if (created || !addr_equal(&e->endpoint, &l->public_ip) || e->port != port)
		e->changed = true;
	memcpy(e->pub, pub, WG_KEY_LEN);
	e->endpoint = l->public_ip;
	e->port = port;
	e->gen = c->gen;
}

static void on_removed(struct wg_ctl *c, const struct event *ev)
{
	struct prefix key = { .addr = ev->lease.subnet.addr, .len = ev->lease.subnet.len };

	if (!key.addr.family || !htab_get(&c->peers, &key))
		return;
	htab_del(&c->peers, &key);
	c->dirty = true;
}

static bool stale(const void *rec, void *arg)
{
	return ((const struct entry *)rec)->gen != *(const uint32_t *)arg;
}

static void purge(struct wg_ctl *c)
{
	if (htab_del_if(&c->peers, stale, &c->gen))
		c->dirty = true;
}

static int on_event(void *arg, const struct event *ev)
{
	struct wg_ctl *c = arg;

	state_event(c->state, ev);
	switch (ev->type) {
	case EV_SNAPSHOT:
		c->gen++;
		c->in_snapshot = true;
		return 0;
	case EV_ADDED:
		if (ev->lease.self)
			return on_self(c, &ev->lease);
		on_added(c, ev);
		return 0;
	case EV_REMOVED:
		if (!ev->lease.self)
			on_removed(c, ev);
		return 0;
	case EV_SYNC:
		if (c->in_snapshot)
			purge(c);
		c->in_snapshot = false;
		c->synced = true;
		reconcile(c, false);
		if (c->o->synced) {
			c->o->synced(c->o->synced_arg);
		}
		return 0;
	default:
		return 0;
	}
}

static int on_idle(void *arg)
{
	struct wg_ctl *c = arg;

	if (c->dirty && !c->in_snapshot)
		return reconcile(c, false);
	return 0;
}

static int on_tick(void *arg)
{
	struct wg_ctl *c = arg;
	uint64_t ticks;

	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -1;
	if (c->in_snapshot)
		return 0;
	if (!c->own_set_up)
		setup_device(c);
	return reconcile(c, true);
}

static int on_state_tick(void *arg)
{
	return state_tick(((struct wg_ctl *)arg)->state);
}

static int on_signal(void *arg, int sig)
{
	struct wg_ctl *c = arg;

	if (sig == SIGTERM || sig == SIGINT) {
		log_info("stopping on signal %d: %s and its peers stay", sig, c->o->dev);
		return 1;
	}
	if (sig == SIGHUP) {
		log_notice("SIGHUP: configuring %s again", c->o->dev);
		c->own_set_up = false;
		if (setup_device(c) < 0)
			return -1;
		return reconcile(c, false);
	}
	return 0;
}

static int underlay_mtu(const struct wg_opts *o, unsigned *mtu)
{
	struct iface ifc;
	int rc;

	if (o->mtu) {
		*mtu = o->mtu;
		return 0;
	}
	rc = o->iface ? iface_lookup(o->iface, AF_INET, &ifc) : iface_default(AF_INET, &ifc);
	if (rc < 0) {
		log_err("find the underlay interface %s: no such interface or IPv4 address",
			o->iface ? o->iface : "of the default route");
		return -1;
	}
	*mtu = ifc.mtu;
	return 0;
}

static int start(struct wg_ctl *c)
{
	const struct wg_opts *o = c->o;
	struct itimerspec its = { .it_interval = { o->check_secs, 0 },
				  .it_value = { o->check_secs, 0 } };
	struct subnet_env env;
	unsigned under;
	int rc;

	if (env_read(o->subnet_file, &env) == 0) {
		c->own = env.subnet;
		c->network = env.network;
	} else if (o->subnet_file_given) {
		log_warn("read %s: %s (waiting for our lease in the events)", o->subnet_file,
			 strerror(errno));
	}
	if (o->network.addr.family)
		c->network = o->network;
	if (underlay_mtu(o, &under) < 0)
		return EX_CONFIG;
	if (under <= WG_OVERHEAD_V4 + 68) {
		log_err("underlay MTU %u is too small for WireGuard", under);
		return EX_CONFIG;
	}
	c->mtu = under - WG_OVERHEAD_V4;
	if ((rc = load_key(o, c->priv, c->pub)) != 0)
		return rc;
	if ((rc = open_device(o, &c->w, c->priv)) != 0)
		return rc;
	if (setup_device(c) < 0)
		return EXIT_FAILURE;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0) {
		log_err("set up a timer: %s", strerror(errno));
		return EX_OSERR;
	}
	return 0;
}

int wg_run_apply(const struct wg_opts *o)
{
	struct wg_ctl c = { .o = o, .timer_fd = -1 };
	struct event_sink s = { .event = on_event, .idle = on_idle, .signal = on_signal,
				.sigfd = o->sigfd, .extra = on_tick, .tick = on_state_tick, .arg = &c };
	int rc;

	htab_init(&c.peers, sizeof(struct entry), sizeof(struct prefix));
	c.nl = nl_open();
	if (!c.nl) {
		log_err("open a netlink socket: %s", strerror(errno));
		return errno == EPERM || errno == EACCES ? EX_NOPERM : EX_OSERR;
	}
	rc = start(&c);
	if (rc == 0) {
		s.extra_fd = c.timer_fd;
		c.state = state_new(o->state_dir, "flannel-wireguard", true);
		state_set_str(c.state, "backend", "wireguard");
		state_set_str(c.state, "device", o->dev);
		rc = event_stream_run(STDIN_FILENO, &s);
		state_free(c.state);
	}
	if (c.timer_fd >= 0)
		close(c.timer_fd);
	explicit_bzero(c.priv, sizeof(c.priv));
	wg_close(&c.w);
	htab_free(&c.peers);
	nl_close(c.nl);
	return rc;
}
