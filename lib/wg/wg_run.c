/* wg_run.c - flannel-wireguard.  init: the key, a device (reused when it
 * is there, so a restart keeps its peers and sessions), its private key and
 * port; prints {"PublicKey":..,"Port":N}.  apply: one device per family
 * (Mode separate: flannel-wg for IPv4, flannel-wg-v6 for IPv6) or one for
 * both; on each our subnet's network address (/32, /128), the MTU (the
 * underlay's less the real overhead of its outer family), up, one route per
 * Network; one peer per remote lease; the devices reconciled against what
 * the leases want every few seconds (a peer removed by hand comes back,
 * stale peers go after a sync); a peer that sends but gets no handshake is
 * reported. */
#include <errno.h>
#include <jansson.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "model/env.h"
#include "model/event_stream.h"
#include "model/gojson.h"
#include "model/peer_set.h"
#include "netlink/iface.h"
#include "netlink/nl.h"
#include "status/state.h"
#include "wg/wg_run.h"

static int load_key(const struct wg_opts *o, uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	char err[300];
	bool created;

	if (wg_key_load(o->key_file, priv, &created, err, sizeof(err)) < 0) {
		log_err("private key: %s", err);
		return FL_ERR_CONFIG;
	}
	if (wg_key_public(priv, pub) < 0) {
		log_err("derive the public key of %s: OpenSSL's X25519 failed", o->key_file);
		return FL_ERR_INTERNAL;
	}
	log_notice("%s private key %s", created ? "created" : "reusing", o->key_file);
	return 0;
}

/* Device dev, with our key and port (peers untouched); *go_pid when
 * wireguard-go had to be started for it (apply only: it outlives init). */
static int open_device(const struct wg_opts *o, const char *dev, uint16_t port,
		       struct wg_drv *w, const uint8_t priv[WG_KEY_LEN], pid_t *go_pid)
{
	struct wg_device have, want = { .has_priv = true, .port = port };
	char err[400];
	int rc = wg_open(w, dev, o->uapi_dir, err, sizeof(err));

	/* Nothing serves dev: no module, no socket, or a socket whose
	 * implementation died with its device. */
	bool unserved = rc == -EOPNOTSUPP || (rc == -ENODEV && w->kind == 0);

	if (unserved && o->wg_go && go_pid) {
		log_notice("%s: %s; starting %s", dev, err, o->wg_go);
		rc = wg_go_start(o->wg_go, w, go_pid, err, sizeof(err));
		if (rc == 0) {
			log_notice("started %s for %s (pid %ld)", o->wg_go, dev, (long)*go_pid);
			rc = wg_open(w, dev, o->uapi_dir, err, sizeof(err));
		}
	} else if (unserved && o->wg_go && wg_go_found(o->wg_go)) {
		log_notice("%s: no device yet; apply starts %s for it", dev, o->wg_go);
		return -1;
	}
	if (rc < 0) {
		log_err("%s", err);
		return rc == -EPERM || rc == -EACCES ? FL_ERR_PERM : FL_ERR_UNAVAILABLE;
	}
	rc = wg_get(w, &have, err, sizeof(err));
	if (rc < 0) {
		log_err("read %s: %s", dev, err);
		wg_close(w);
		return FL_ERR_UNAVAILABLE;
	}
	if (!have.has_priv || memcmp(have.priv, priv, WG_KEY_LEN) || have.port != port) {
		memcpy(want.priv, priv, WG_KEY_LEN);
		rc = wg_set(w, &want, err, sizeof(err));
		explicit_bzero(want.priv, sizeof(want.priv));
		if (rc < 0) {
			log_err("configure %s: %s", dev, err);
			wg_device_clear(&have);
			wg_close(w);
			return rc == -EADDRINUSE ? FL_ERR_UNAVAILABLE : FL_ERR_OS;
		}
	}
	log_notice("%s: %s WireGuard (%s), port %u, %zu peers kept", dev, wg_kind_name(w->kind),
		   w->kind == WG_KERNEL ? (w->created ? "created" : "reused") : w->sock, port,
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
		rc = open_device(o, o->dev, o->port, &w, priv, NULL);
	explicit_bzero(priv, sizeof(priv));
	if (rc > 0)
		return rc;
	if (rc == 0)
		wg_close(&w);
	wg_key_to_base64(pub, b64);
	printf("{\"PublicKey\":\"%s\",\"Port\":%u}\n", b64, o->port);
	return fflush(stdout) == 0 ? 0 : FL_ERR_IO;
}

/* ---- apply ---- */

/* What one remote lease offers, per family: BackendData, BackendV6Data. */
struct side {
	bool has;
	struct prefix subnet;
	struct ipaddr ip;
	uint8_t pub[WG_KEY_LEN];
	uint16_t port;
};

/* One device's view of one peer. */
struct watch {
	uint64_t last_tx;            /* at the previous check */
	int64_t sending_since;       /* monotonic s: tx grew without a fresh handshake */
	bool reported;
	bool changed;                /* the lease changed since the device last got it */
};

struct entry {
	struct peer_head h;          /* the lease's subnet */
	struct side s4, s6;
	struct watch on[2];          /* per link */
};

/* A device and the families of inner packets it carries. */
struct link {
	const char *dev;
	uint16_t port;
	bool v4, v6;
	struct wg_drv w;
	bool opened, set_up;
	unsigned mtu;
	pid_t go_pid;                /* the wireguard-go we started for it; -1: to start
				      * again; 0: none of ours */
};

struct wg_ctl {
	const struct wg_opts *o;
	struct link link[2];
	int n_links;
	struct nl *nl;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	bool v4, v6;                 /* the families of the network */
	struct prefix own, own6, network, network6;
	struct ipaddr my_ip, my_ip6;
	struct peer_set peers;       /* struct entry */
	int timer_fd;
	struct state *state;
};

static int link_route(struct wg_ctl *c, struct link *l, const struct prefix *dst)
{
	struct nl_route r = { .dst = *dst, .oif = (uint32_t)l->w.ifindex,
			      .protocol = RTPROT_FLANNEL, .scope = RT_SCOPE_LINK,
			      .type = RTN_UNICAST };

	return dst->addr.family ? nl_route_change(c->nl, NL_REPLACE, &r) : 0;
}

static int link_addr(struct wg_ctl *c, struct link *l, const struct prefix *own)
{
	struct nl_addr a = { .ifindex = l->w.ifindex,
			     .pfx = { .addr = own->addr, .len = (unsigned)addr_bits(own->addr.family) } };

	return own->addr.family ? nl_addr_change(c->nl, NL_REPLACE, &a) : 0;
}

/* Address(es), MTU, up and the Network route(s) of one device; idempotent. */
static int setup_link(struct wg_ctl *c, struct link *l)
{
	const struct prefix none = { 0 };
	const struct prefix *own = l->v4 ? &c->own : &none, *own6 = l->v6 ? &c->own6 : &none;
	char p[ADDR_STRLEN], q[ADDR_STRLEN], p6[ADDR_STRLEN], q6[ADDR_STRLEN];
	int rc;

	if (!own->addr.family && !own6->addr.family)
		return 0; /* our lease is not known yet */
	rc = nl_link_set_mtu(c->nl, l->w.ifindex, l->mtu);
	if (rc == 0)
		rc = link_addr(c, l, own);
	if (rc == 0)
		rc = link_addr(c, l, own6);
	if (rc == 0)
		rc = nl_link_set_up(c->nl, l->w.ifindex);
	if (rc == 0 && l->v4)
		rc = link_route(c, l, &c->network);
	if (rc == 0 && l->v6)
		rc = link_route(c, l, &c->network6);
	if (rc < 0) {
		log_err("configure %s: %s", l->dev, nl_strerror(c->nl, rc));
		return rc;
	}
	if (!l->set_up)
		log_info("%s: address %s %s, MTU %u, route %s %s", l->dev,
			 own->addr.family ? addr_format(&own->addr, p, sizeof(p)) : "",
			 own6->addr.family ? addr_format(&own6->addr, p6, sizeof(p6)) : "", l->mtu,
			 l->v4 && c->network.addr.family ?
				 prefix_format(&c->network, q, sizeof(q)) : "",
			 l->v6 && c->network6.addr.family ?
				 prefix_format(&c->network6, q6, sizeof(q6)) : "");
	l->set_up = true;
	return 0;
}

static void setup_links(struct wg_ctl *c, bool again)
{
	for (int i = 0; i < c->n_links; i++) {
		if (again)
			c->link[i].set_up = false;
		if (!c->link[i].set_up)
			setup_link(c, &c->link[i]);
	}
}

/* Go's net.IP.IsPrivate: RFC 1918 and RFC 4193. */
static bool is_private(const struct ipaddr *a)
{
	const uint8_t *b = a->b;

	if (a->family == AF_INET)
		return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		       (b[0] == 192 && b[1] == 168);
	return a->family == AF_INET6 && (b[0] & 0xfe) == 0xfc;
}

/* The side of e whose endpoint a device carrying both families uses. */
static const struct side *endpoint_side(const struct wg_ctl *c, const struct entry *e)
{
	const struct side *s4 = e->s4.has ? &e->s4 : NULL, *s6 = e->s6.has ? &e->s6 : NULL;

	if (!s4 || !s6)
		return s4 ? s4 : s6;
	switch (c->o->mode) {
	case WG_MODE_IPV6:
		return s6;
	case WG_MODE_AUTO: /* upstream's order of preference */
		if (!is_private(&s4->ip) && c->my_ip.family && addr_is_set(&c->my_ip))
			return s4;
		if (!is_private(&s6->ip) && c->my_ip6.family && !is_private(&c->my_ip6))
			return s6;
		return s4;
	default:
		return s4;
	}
}

/* What device l should hold for e; false: nothing (e has no side for l). */
static bool want_peer(const struct wg_ctl *c, const struct link *l, const struct entry *e,
		      struct wg_peer *p)
{
	const struct side *s4 = l->v4 && e->s4.has ? &e->s4 : NULL;
	const struct side *s6 = l->v6 && e->s6.has ? &e->s6 : NULL;
	const struct side *ep;

	if (!s4 && !s6)
		return false;
	ep = s4 && s6 ? endpoint_side(c, e) : s4 ? s4 : s6;
	memset(p, 0, sizeof(*p));
	/* All the same key in practice; upstream takes BackendV6Data's. */
	memcpy(p->pub, (s6 ? s6 : s4)->pub, WG_KEY_LEN);
	p->endpoint = ep->ip;
	p->endpoint_port = ep->port;
	p->keepalive = c->o->keepalive;
	p->has_psk = true; /* all zero: none */
	if (c->o->has_psk)
		memcpy(p->psk, c->o->psk, WG_KEY_LEN);
	if (s4)
		p->allowed[p->n_allowed++] = s4->subnet;
	if (s6)
		p->allowed[p->n_allowed++] = s6->subnet;
	p->replace_allowed = true;
	return true;
}

static bool same_allowed(const struct wg_peer *want, const struct wg_peer *have)
{
	if (have->n_allowed != want->n_allowed)
		return false;
	for (int i = 0; i < want->n_allowed; i++) {
		bool found = false;

		for (int j = 0; !found && j < have->n_allowed; j++)
			found = prefix_equal(&want->allowed[i], &have->allowed[j]);
		if (!found)
			return false;
	}
	return true;
}

static bool same_peer(const struct wg_peer *want, const struct wg_peer *have)
{
	return addr_equal(&want->endpoint, &have->endpoint) &&
	       want->endpoint_port == have->endpoint_port && want->keepalive == have->keepalive &&
	       !memcmp(want->psk, have->psk, WG_KEY_LEN) && same_allowed(want, have);
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

/* The check of one peer's handshake, from a fresh read of the device. */
static void check_handshake(struct wg_ctl *c, const struct link *l, struct entry *e,
			    struct watch *st, const struct wg_peer *have, int64_t now_mono,
			    bool *resend)
{
	int64_t age = have->last_handshake ? (int64_t)time(NULL) - have->last_handshake : -1;
	char s[ADDR_STRLEN], ep[ADDR_STRLEN], k[WG_KEY_B64_LEN + 1];
	bool sending = have->tx_bytes > st->last_tx;

	st->last_tx = have->tx_bytes;
	if (age >= 0 && age < (int64_t)c->o->stale_secs) {
		if (st->reported)
			log_notice("peer %s on %s: handshake again (%lld s ago)",
				   prefix_format(&e->h.key, s, sizeof(s)), l->dev, (long long)age);
		st->reported = false;
		st->sending_since = 0;
		return;
	}
	if (!sending)
		return; /* idle: WireGuard makes no handshake without traffic */
	if (!st->sending_since)
		st->sending_since = now_mono;
	if (st->reported || now_mono - st->sending_since < (int64_t)c->o->stale_secs)
		return;
	wg_key_to_base64(have->pub, k);
	log_warn("peer %s (%s:%u, key %s): no handshake %s while sending for %lld s; "
		 "setting its endpoint again", prefix_format(&e->h.key, s, sizeof(s)),
		 addr_format(&have->endpoint, ep, sizeof(ep)), have->endpoint_port, k,
		 age < 0 ? "ever" : "for minutes", (long long)(now_mono - st->sending_since));
	st->reported = true;
	*resend = true;
}

/* The device's peers no lease wants, once the set is complete. */
static void remove_unwanted(struct wg_ctl *c, const struct link *l, const struct wg_device *have,
			    struct wg_device *set)
{
	char k[WG_KEY_B64_LEN + 1];

	for (size_t i = 0; i < have->n_peers; i++) {
		const struct wg_peer *h = &have->peers[i];
		struct wg_peer want, *p;
		struct entry *e;
		bool wanted = false;
		size_t it = 0;

		while (!wanted && (e = peer_set_next(&c->peers, &it)))
			wanted = want_peer(c, l, e, &want) && !memcmp(want.pub, h->pub, WG_KEY_LEN);
		if (wanted)
			continue;
		p = wg_device_add_peer(set);
		if (!p)
			return;
		memcpy(p->pub, h->pub, WG_KEY_LEN);
		p->remove = true;
		wg_key_to_base64(h->pub, k);
		log_info("peer %s on %s: no lease wants it: removing", k, l->dev);
	}
}

static bool link_exists(struct wg_ctl *c, const struct link *l)
{
	struct nl_link nl;

	return nl_link_get(c->nl, l->dev, 0, &nl) != -ENODEV;
}

/* Make device li's peers what the leases want: add and fix; after a sync,
 * remove the peers no lease wants. */
static int reconcile_link(struct wg_ctl *c, int li, bool check)
{
	struct link *l = &c->link[li];
	struct wg_device have, set = { 0 };
	struct entry *e;
	size_t it = 0;
	char err[400], s[ADDR_STRLEN], k[WG_KEY_B64_LEN + 1];
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	rc = wg_get(&l->w, &have, err, sizeof(err));
	if (rc < 0) {
		log_err("read %s: %s", l->dev, err);
		if (c->o->wg_go && l->w.kind == WG_USERSPACE && !l->go_pid && !link_exists(c, l)) {
			/* Started by an earlier run of ours, or by hand, and gone
			 * with its device: ours from now on. */
			log_notice("%s went with the userspace WireGuard that served it", l->dev);
			l->go_pid = -1;
		}
		return -1; /* try again at the next tick */
	}
	if (!have.has_priv || memcmp(have.priv, c->priv, WG_KEY_LEN) || have.port != l->port) {
		log_notice("%s lost its private key or port (restarted?): setting them again",
			   l->dev);
		set.has_priv = true;
		memcpy(set.priv, c->priv, WG_KEY_LEN);
		set.port = l->port;
	}
	while ((e = peer_set_next(&c->peers, &it))) {
		struct wg_peer want, *h, *p;
		bool resend = false;

		if (!want_peer(c, l, e, &want))
			continue;
		h = wg_device_find_peer(&have, want.pub);
		if (h && check)
			check_handshake(c, l, e, &e->on[li], h, ts.tv_sec, &resend);
		if (h && !resend && !e->on[li].changed && endpoint_roamed(c, &want, h))
			continue; /* WireGuard follows a peer that moved (NAT): keep it */
		if (h && same_peer(&want, h) && !resend)
			continue;
		p = wg_device_add_peer(&set);
		if (!p) {
			log_err("configure %s: out of memory", l->dev);
			break;
		}
		*p = want;
		wg_key_to_base64(want.pub, k);
		log_info("peer %s on %s: %s %s:%u, key %s", prefix_format(&e->h.key, s, sizeof(s)),
			 l->dev, !h ? "adding" : resend ? "refreshing" : "updating",
			 addr_format(&want.endpoint, err, sizeof(err)), want.endpoint_port, k);
	}
	if (peer_set_complete(&c->peers))
		remove_unwanted(c, l, &have, &set);
	wg_device_clear(&have);
	rc = 0;
	if (set.has_priv || set.n_peers) {
		rc = wg_set(&l->w, &set, err, sizeof(err));
		if (rc < 0)
			log_err("configure the peers of %s: %s", l->dev, err);
		for (it = 0; rc < 0 && (e = peer_set_next(&c->peers, &it));)
			if (e->on[li].changed)
				state_refused(c->state, &e->h.key, err);
		state_count(c->state, STATE_ERRORS, rc < 0);
		if (rc == 0 && set.has_priv)
			l->set_up = false; /* a new device: its address and routes too */
	}
	wg_device_clear(&set);
	if (rc < 0)
		return -1;
	it = 0;
	while ((e = peer_set_next(&c->peers, &it)))
		e->on[li].changed = false;
	return 0;
}

static int reconcile(struct wg_ctl *c, bool check)
{
	int rc = 0;

	for (int i = 0; i < c->n_links; i++)
		if (reconcile_link(c, i, check) < 0)
			rc = -1;
	return rc;
}

static int publish(void *arg)
{
	return reconcile(arg, false);
}

static int on_self(void *arg, const struct lease *l)
{
	struct wg_ctl *c = arg;
	bool same = prefix_equal(&l->subnet, &c->own) && prefix_equal(&l->subnet6, &c->own6);

	c->my_ip = l->public_ip;
	c->my_ip6 = l->public_ip6;
	if (same)
		return 0;
	c->own = l->subnet;
	c->own6 = l->subnet6;
	for (int i = 0; i < c->n_links; i++) {
		c->link[i].set_up = false;
		if (setup_link(c, &c->link[i]) < 0)
			return -1;
	}
	return 0;
}

/* BackendData or BackendV6Data {"PublicKey":"..","Port":N}; Port 0 or
 * missing (flannel before v0.26.6): def, our own device's. */
static int peer_data(json_t *data, const char *what, uint16_t def, struct side *s, char *err,
		     size_t errlen)
{
	json_t *k = json_is_object(data) ? gojson_get(data, "PublicKey") : NULL;
	json_t *p = json_is_object(data) ? gojson_get(data, "Port") : NULL;

	if (!json_is_string(k) || wg_key_from_base64(json_string_value(k), s->pub) < 0) {
		snprintf(err, errlen, "%s has no PublicKey of 32 bytes in base64", what);
		return -1;
	}
	s->port = def;
	if (p && !json_is_null(p)) {
		if (!json_is_integer(p) || json_integer_value(p) < 0 ||
		    json_integer_value(p) > 65535) {
			snprintf(err, errlen, "%s.Port is not within 0..65535", what);
			return -1;
		}
		if (json_integer_value(p))
			s->port = (uint16_t)json_integer_value(p);
	}
	s->has = true;
	return 0;
}

/* One family's side of a lease: 0 (s->has says whether there is one), or
 * -1 with err. */
static int side_of(const struct wg_ctl *c, const struct lease *l, int family, struct side *s,
		   char *err, size_t errlen)
{
	bool v6 = family == AF_INET6;
	const struct prefix *sub = v6 ? &l->subnet6 : &l->subnet;
	const struct ipaddr *ip = v6 ? &l->public_ip6 : &l->public_ip;
	json_t *data = v6 ? l->backend_v6_data : l->backend_data;

	memset(s, 0, sizeof(*s));
	if (!(v6 ? c->v6 : c->v4) || !sub->addr.family || (v6 && !data))
		return 0; /* not this family's: no side */
	if (peer_check_remote(sub, ip, v6 ? &c->own6 : &c->own, v6 ? &c->network6 : &c->network,
			      err, errlen) < 0)
		return -1;
	if (peer_data(data, v6 ? "BackendV6Data" : "BackendData",
		      v6 && c->n_links == 2 ? c->o->port6 : c->o->port, s, err, errlen) < 0)
		return -1;
	if (!memcmp(s->pub, c->pub, WG_KEY_LEN)) {
		snprintf(err, errlen, "it has our own public key");
		return -1;
	}
	s->subnet = (struct prefix){ .addr = sub->addr, .len = sub->len };
	s->ip = *ip;
	return 0;
}

static bool same_side(const struct side *a, const struct side *b)
{
	return a->has == b->has && (!a->has || (prefix_equal(&a->subnet, &b->subnet) &&
						addr_equal(&a->ip, &b->ip) && a->port == b->port &&
						!memcmp(a->pub, b->pub, WG_KEY_LEN)));
}

static bool same_endpoint(const struct side *a, const struct side *b)
{
	return a->has == b->has && addr_equal(&a->ip, &b->ip) && a->port == b->port;
}

static int update(void *arg, void *rec, bool created, const struct lease *l)
{
	struct wg_ctl *c = arg;
	struct entry *e = rec;
	struct side s4, s6;
	char err[200], s[ADDR_STRLEN];
	bool changed;

	err[0] = '\0';
	if (strcmp(l->backend_type, "wireguard") != 0)
		snprintf(err, sizeof(err), "BackendType is \"%s\", not wireguard", l->backend_type);
	else if (side_of(c, l, AF_INET, &s4, err, sizeof(err)) == 0 &&
		 side_of(c, l, AF_INET6, &s6, err, sizeof(err)) == 0 && !s4.has && !s6.has)
		snprintf(err, sizeof(err), "nothing in it for this network's families");
	if (err[0]) {
		log_warn("skip lease %s: %s", prefix_format(&e->h.key, s, sizeof(s)), err);
		state_refused(c->state, &e->h.key, err);
		return -1;
	}
	if (created || !same_endpoint(&e->s4, &s4) || !same_endpoint(&e->s6, &s6))
		e->on[0].changed = e->on[1].changed = true;
	changed = created || !same_side(&e->s4, &s4) || !same_side(&e->s6, &s6);
	e->s4 = s4;
	e->s6 = s6;
	return changed;
}

static const struct peer_set_ops peer_ops = {
	.self = on_self, .update = update, .publish = publish,
};

static int on_event(void *arg, const struct event *ev)
{
	struct wg_ctl *c = arg;

	state_event(c->state, ev);
	return peer_set_event(&c->peers, ev);
}

static int on_idle(void *arg)
{
	peer_set_idle(&((struct wg_ctl *)arg)->peers);
	return 0;
}

/* A wireguard-go we started that is gone: start it again. */
static void supervise_wg_go(struct wg_ctl *c)
{
	for (int i = 0; i < c->n_links; i++) {
		struct link *l = &c->link[i];
		char err[400], why[64];

		if (!l->go_pid)
			continue; /* not ours */
		if (l->go_pid > 0) {
			if (!wg_go_exited(l->go_pid, why, sizeof(why)))
				continue;
			log_warn("%s for %s (pid %ld) %s: starting it again", c->o->wg_go, l->dev,
				 (long)l->go_pid, why);
			l->go_pid = -1; /* wanted, not running */
		}
		wg_close(&l->w);
		if (wg_go_start(c->o->wg_go, &l->w, &l->go_pid, err, sizeof(err)) < 0 ||
		    wg_open(&l->w, l->dev, c->o->uapi_dir, err, sizeof(err)) < 0) {
			log_err("%s", err);
			continue; /* the next tick tries again */
		}
		log_notice("started %s for %s (pid %ld)", c->o->wg_go, l->dev, (long)l->go_pid);
		reconcile_link(c, i, false); /* its key, port and peers */
		l->set_up = false;
		setup_link(c, l);
	}
}

static int on_tick(void *arg)
{
	struct wg_ctl *c = arg;
	uint64_t ticks;

	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -1;
	supervise_wg_go(c);
	if (c->peers.in_snapshot)
		return 0;
	reconcile(c, true);
	setup_links(c, false);
	return 0;
}

static int on_state_tick(void *arg)
{
	return state_tick(((struct wg_ctl *)arg)->state);
}

static int on_signal(void *arg, int sig)
{
	struct wg_ctl *c = arg;

	if (sig == SIGTERM || sig == SIGINT) {
		log_info("stopping on signal %d: the devices and their peers stay", sig);
		return 1;
	}
	if (sig == SIGCHLD) {
		supervise_wg_go(c);
		return 0;
	}
	if (sig == SIGHUP) {
		log_notice("SIGHUP: configuring the devices again");
		setup_links(c, true);
		reconcile(c, false);
	}
	return 0;
}

static int underlay_mtu(const struct wg_ctl *c, unsigned *mtu)
{
	const struct wg_opts *o = c->o;
	int family = c->v4 ? AF_INET : AF_INET6;
	struct iface ifc;
	int rc;

	if (o->mtu) {
		*mtu = o->mtu;
		return 0;
	}
	rc = o->iface ? iface_lookup(o->iface, family, &ifc) : iface_default(family, &ifc);
	if (rc < 0) {
		log_err("find the underlay interface %s: no such interface or %s address",
			o->iface ? o->iface : "of the default route", c->v4 ? "IPv4" : "IPv6");
		return -1;
	}
	*mtu = ifc.mtu;
	return 0;
}

/* The devices for the network's families, as Mode wants them. */
static int plan_links(struct wg_ctl *c, unsigned under)
{
	const struct wg_opts *o = c->o;

	if (o->mode == WG_MODE_SEPARATE) {
		if (c->v4)
			c->link[c->n_links++] = (struct link){ .dev = o->dev, .port = o->port,
							       .v4 = true };
		if (c->v6)
			c->link[c->n_links++] = (struct link){ .dev = o->dev6, .port = o->port6,
							       .v6 = true };
	} else {
		c->link[c->n_links++] = (struct link){ .dev = o->dev, .port = o->port,
						       .v4 = c->v4, .v6 = c->v6 };
	}
	for (int i = 0; i < c->n_links; i++) {
		unsigned over = wg_overhead(o->mode, c->link[i].v4, c->link[i].v6);

		if (under <= over + 68) {
			log_err("underlay MTU %u is too small for WireGuard", under);
			return -1;
		}
		c->link[i].mtu = under - over;
	}
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
		c->own6 = env.subnet6;
		c->network = env.network;
		c->network6 = env.network6;
	} else if (o->subnet_file_given) {
		log_warn("read %s: %s (waiting for our lease in the events)", o->subnet_file,
			 strerror(errno));
	}
	if (o->network.addr.family)
		c->network = o->network;
	if (o->network6.addr.family)
		c->network6 = o->network6;
	c->v6 = c->network6.addr.family != 0;
	c->v4 = c->network.addr.family != 0 || !c->v6;
	if (underlay_mtu(c, &under) < 0 || plan_links(c, under) < 0)
		return FL_ERR_CONFIG;
	if ((rc = load_key(o, c->priv, c->pub)) != 0)
		return rc;
	for (int i = 0; i < c->n_links; i++) {
		struct link *l = &c->link[i];

		if ((rc = open_device(o, l->dev, l->port, &l->w, c->priv, &l->go_pid)) != 0)
			return rc;
		l->opened = true;
		if (setup_link(c, l) < 0)
			return FL_ERR_FAILED;
	}
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0) {
		log_err("set up a timer: %s", strerror(errno));
		return FL_ERR_OS;
	}
	return 0;
}

int wg_run_apply(const struct wg_opts *o)
{
	struct wg_ctl c = { .o = o, .timer_fd = -1 };
	struct event_sink s = { .event = on_event, .idle = on_idle, .signal = on_signal,
				.sigfd = o->sigfd, .extra = on_tick, .tick = on_state_tick, .arg = &c };
	int rc;

	peer_set_init(&c.peers, sizeof(struct entry), &peer_ops, &c);
	c.peers.on_synced = o->synced;
	c.peers.on_synced_arg = o->synced_arg;
	c.nl = nl_open();
	if (!c.nl) {
		log_err("open a netlink socket: %s", strerror(errno));
		return errno == EPERM || errno == EACCES ? FL_ERR_PERM : FL_ERR_OS;
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
	for (int i = 0; i < c.n_links; i++)
		if (c.link[i].opened)
			wg_close(&c.link[i].w);
	/* A wireguard-go we started stays, as a kernel device would: the next
	 * run finds its socket and keeps the sessions. */
	peer_set_free(&c.peers);
	nl_close(c.nl);
	return rc;
}
