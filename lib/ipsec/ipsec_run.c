/* ipsec_run.c - flannel-ipsec apply: upstream's ipsec backend.  charon
 * (ours, or one already running) negotiates IKEv2 with every peer and
 * installs the ESP SAs; we load the PSK and one connection per remote lease
 * over VICI and install the three XFRM policies per peer ourselves, each
 * peer with a reqid of its own, tagged (XFRM_REQID_TAG) so that policies
 * deleted by hand come back and stale ones go after a sync.  Every few
 * seconds: the policies, charon's SAs (a peer that gets no IKE_SA is
 * reported) and charon's log (an authentication failure is reported with
 * its cause). */
#include <errno.h>
#include <linux/xfrm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/htab.h"
#include "base/log.h"
#include "ipsec/charon.h"
#include "ipsec/ipsec.h"
#include "ipsec/ipsec_ctl.h"
#include "model/env.h"
#include "model/event_stream.h"
#include "netlink/iface.h"
#include "netlink/xfrm.h"

static void conf_of(const struct ctl *c, const struct peer *p, struct ipsec_peer_conf *pc)
{
	*pc = (struct ipsec_peer_conf){ .own_ip = c->own_ip, .peer_ip = p->ip, .own = c->own,
					.peer = p->subnet, .reqid = p->reqid };
}

static int install(struct ctl *c, struct peer *p)
{
	struct xfrm_pol pol[3];
	char t[200];

	policies_of(c, p, pol);
	for (int i = 0; i < 3; i++) {
		int rc = xfrm_policy_put(c->x, &pol[i]);

		if (rc < 0) {
			log_err("install the policy %s: %s", pol_text(&pol[i], t, sizeof(t)),
				nl_strerror(c->x, rc));
			return -1;
		}
	}
	p->installed = true;
	return 0;
}

static void uninstall(struct ctl *c, struct peer *p)
{
	struct xfrm_pol pol[3];
	char t[200];

	if (!c->own_known)
		return;
	policies_of(c, p, pol);
	for (int i = 0; i < 3; i++) {
		int rc = xfrm_policy_del(c->x, &pol[i]);

		if (rc < 0)
			log_warn("delete the policy %s: %s", pol_text(&pol[i], t, sizeof(t)),
				 nl_strerror(c->x, rc));
	}
	p->installed = false;
}

/* Connected to charon's VICI socket, or trying again at the next tick. */
static bool vici_up(struct ctl *c)
{
	char err[4400];

	if (c->vc.fd >= 0)
		return true;
	forget_charon(c); /* a new charon, or the same one again: load everything */
	if (vici_connect(&c->vc, c->vici, err, sizeof(err)) < 0) {
		log_debug("%s", err);
		return false;
	}
	if (vici_connect(&c->logc, c->vici, err, sizeof(err)) < 0 ||
	    vici_listen(&c->logc, "log", 5000, err, sizeof(err)) < 0) {
		log_warn("follow charon's log: %s (authentication failures will not be named)",
			 err);
		vici_disconnect(&c->logc);
	}
	log_info("connected to charon at %s", c->vici);
	return true;
}

static void load_peer(struct ctl *c, struct peer *p)
{
	struct ipsec_peer_conf pc;
	char err[400], s[ADDR_STRLEN], ip[ADDR_STRLEN];

	conf_of(c, p, &pc);
	prefix_format(&p->subnet, s, sizeof(s));
	addr_format(&p->ip, ip, sizeof(ip));
	if (ipsec_load_key(&c->vc, c->o, &c->own_ip, &p->ip, err, sizeof(err)) < 0) {
		vici_failed(c, "load the PSK for a peer", err);
		return;
	}
	if (ipsec_load_conn(&c->vc, c->o, &pc, err, sizeof(err)) < 0) {
		vici_failed(c, "load the connection to a peer", err);
		return;
	}
	p->loaded = true;
	p->established = p->warned = false;
	p->since = mono();
	log_info("peer %s (%s): connection %s loaded (reqid %u)", s, ip, p->conn, p->reqid);
}

static void unload_peer(struct ctl *c, struct peer *p)
{
	char err[400];

	if (!p->loaded || !vici_up(c))
		return;
	if (ipsec_unload_conn(&c->vc, p->conn, err, sizeof(err)) < 0)
		log_warn("unload the connection %s: %s", p->conn, err);
	if (c->vc.fd >= 0 && ipsec_unload_key(&c->vc, &p->ip, err, sizeof(err)) < 0)
		log_warn("unload the PSK of %s: %s", p->conn, err);
	p->loaded = false;
}

static void reconcile(struct ctl *c)
{
	struct peer *p;
	size_t it = 0;
	char err[400];

	c->dirty = false;
	if (!c->own_known)
		return;
	while ((p = htab_next(&c->peers, &it)))
		if (!p->installed)
			install(c, p);
	if (!vici_up(c)) {
		c->dirty = true;
		return;
	}
	if (!c->key_loaded) {
		static const struct ipaddr none;

		if (ipsec_load_key(&c->vc, c->o, &c->own_ip, &none, err, sizeof(err)) < 0) {
			vici_failed(c, "load the PSK", err);
			return;
		}
		c->key_loaded = true;
	}
	it = 0;
	while (c->vc.fd >= 0 && (p = htab_next(&c->peers, &it)))
		if (!p->loaded)
			load_peer(c, p);
	if (c->synced && !c->stale_swept && c->vc.fd >= 0)
		unload_stale_conns(c);
}

static void supervise_charon(struct ctl *c)
{
	char err[4400];
	int status;

	if (c->o->vici)
		return;
	if (charon_exited(&c->ch, &status)) {
		log_err("charon exited (%s %d): starting it again",
			WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		forget_charon(c);
		c->restart_at = mono() + (c->restarts < 5 ? 1 << c->restarts : 60);
		c->restarts++;
	}
	if (c->ch.pid || mono() < c->restart_at)
		return;
	if (charon_start(&c->ch, err, sizeof(err)) < 0)
		log_err("%s", err);
}

static void tick(struct ctl *c)
{
	supervise_charon(c);
	if (c->in_snapshot)
		return;
	reconcile(c);
	check_policies(c);
	read_log(c);
	check_sas(c);
}

/* ---- events ---- */

/* A reqid of 76 in its top byte, stable for a subnet, unique among peers. */
static uint32_t pick_reqid(struct ctl *c, const struct prefix *s)
{
	uint8_t len = (uint8_t)s->len;
	uint32_t h = fl_fnv1a32(fl_fnv1a32(FL_FNV1A32_INIT, s->addr.b, 4), &len, 1);
	struct peer *p;
	size_t it;

	for (uint32_t k = 0; k < 0xffffff; k++) {
		uint32_t r = XFRM_REQID_TAG << 24 | (((h + k) & 0xffffff) ?: 1);
		bool taken = false;

		it = 0;
		while (!taken && (p = htab_next(&c->peers, &it)))
			taken = p->reqid == r && !prefix_equal(&p->subnet, s);
		if (!taken)
			return r;
	}
	return XFRM_REQID_TAG << 24 | 1;
}

static void drop_peer(struct ctl *c, struct peer *p)
{
	unload_peer(c, p);
	uninstall(c, p);
}

static void on_self(struct ctl *c, const struct lease *l)
{
	struct prefix own = l->subnet;
	struct ipaddr ip = c->own_ip;
	struct peer *p;
	size_t it = 0;

	if (!own.addr.family)
		return;
	prefix_mask(&own);
	if (!c->o->public_ip && addr_is_set(&l->public_ip))
		ip = l->public_ip;
	if (c->own_known && prefix_equal(&own, &c->own) && addr_equal(&ip, &c->own_ip))
		return;
	while ((p = htab_next(&c->peers, &it)))
		drop_peer(c, p);
	c->own = own;
	c->own_ip = ip;
	c->own_known = true;
	it = 0;
	while ((p = htab_next(&c->peers, &it))) {
		struct ipsec_peer_conf pc;

		conf_of(c, p, &pc);
		ipsec_conn_name(&pc, p->conn, sizeof(p->conn));
	}
	c->dirty = true;
}

static void on_added(struct ctl *c, const struct event *ev)
{
	const struct lease *l = &ev->lease;
	char err[200], s[ADDR_STRLEN];
	struct ipsec_peer_conf pc;
	struct prefix key = { 0 };
	struct peer *p;
	bool created;

	if (!l->subnet.addr.family) {
		state_refused(c->state, &l->subnet6, "an IPv6-only lease: ipsec carries IPv4");
		return;
	}
	err[0] = '\0';
	if (strcmp(l->backend_type, "ipsec") != 0)
		snprintf(err, sizeof(err), "BackendType is \"%s\", not ipsec", l->backend_type);
	else
		peer_check_remote(&l->subnet, &l->public_ip, c->own_known ? &c->own : NULL,
				  &c->network, err, sizeof(err));
	if (err[0]) {
		log_warn("skip lease %s: %s", prefix_format(&l->subnet, s, sizeof(s)), err);
		state_refused(c->state, &l->subnet, err);
		return;
	}
	key.addr = l->subnet.addr;
	key.len = l->subnet.len;
	prefix_mask(&key);
	p = htab_get(&c->peers, &key);
	if (p && addr_equal(&p->ip, &l->public_ip)) {
		p->gen = c->gen;
		return;
	}
	if (p)
		drop_peer(c, p); /* it moved: the old connection and policies go */
	else if (!(p = htab_put(&c->peers, &key, &created))) {
		log_err("remember lease %s: out of memory", prefix_format(&key, s, sizeof(s)));
		return;
	}
	p->ip = l->public_ip;
	p->gen = c->gen;
	p->reqid = pick_reqid(c, &key);
	p->loaded = p->installed = p->established = p->warned = false;
	conf_of(c, p, &pc);
	ipsec_conn_name(&pc, p->conn, sizeof(p->conn));
	c->dirty = true;
}

static void on_removed(struct ctl *c, const struct event *ev)
{
	struct prefix key = { 0 };
	struct peer *p;
	char s[ADDR_STRLEN];

	if (!ev->lease.subnet.addr.family)
		return;
	key.addr = ev->lease.subnet.addr;
	key.len = ev->lease.subnet.len;
	prefix_mask(&key);
	p = htab_get(&c->peers, &key);
	if (!p)
		return;
	log_info("peer %s: lease removed: its connection and policies go",
		 prefix_format(&key, s, sizeof(s)));
	drop_peer(c, p);
	htab_del(&c->peers, &key);
}

static bool stale(const void *rec, void *arg)
{
	return ((const struct peer *)rec)->gen != *(const uint32_t *)arg;
}

static void purge(struct ctl *c)
{
	struct peer *p;
	size_t it = 0;

	while ((p = htab_next(&c->peers, &it)))
		if (p->gen != c->gen)
			drop_peer(c, p);
	htab_del_if(&c->peers, stale, &c->gen);
}

static int on_event(void *arg, const struct event *ev)
{
	struct ctl *c = arg;

	state_event(c->state, ev);
	switch (ev->type) {
	case EV_SNAPSHOT:
		c->gen++;
		c->in_snapshot = true;
		return 0;
	case EV_ADDED:
		if (ev->lease.self)
			on_self(c, &ev->lease);
		else
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
		reconcile(c);
		if (!c->synced) {
			c->synced = true;
			check_policies(c); /* stale policies of an earlier run go now */
			if (c->vc.fd >= 0)
				unload_stale_conns(c); /* and stale connections */
			if (c->o->synced)
				c->o->synced(c->o->synced_arg);
		}
		return 0;
	default:
		return 0;
	}
}

static int on_idle(void *arg)
{
	struct ctl *c = arg;

	if (c->dirty && !c->in_snapshot)
		reconcile(c);
	return 0;
}

static int on_tick(void *arg)
{
	struct ctl *c = arg;
	uint64_t ticks;

	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -1;
	tick(c);
	return 0;
}

static int on_signal(void *arg, int sig)
{
	struct ctl *c = arg;

	if (sig == SIGTERM || sig == SIGINT) {
		log_info("stopping on signal %d: the policies stay (no clear text to peers)", sig);
		return 1;
	}
	if (sig == SIGHUP) {
		log_notice("SIGHUP: loading every connection and policy again");
		forget_charon(c);
		reconcile(c);
	}
	return 0;
}

/* ---- start ---- */

static int esp_check(struct nl *x)
{
	int rc = xfrm_esp_probe(x);

	if (rc == -EPROTONOSUPPORT) {
		log_err("use IPsec: this kernel has no ESP support (module esp4, "
			"CONFIG_INET_ESP): use another backend or another kernel");
		return FL_ERR_UNAVAILABLE;
	}
	if (rc < 0)
		log_warn("check this kernel for ESP: %s (going on)", nl_strerror(x, rc));
	return 0;
}

static int find_charon(const struct ipsec_opts *o, char *out, size_t len)
{
	if (o->vici)
		return 0;
	if (charon_find(o->charon, out, len) == 0)
		return 0;
	if (o->charon)
		log_err("run charon: %s is not an executable file", o->charon);
	else
		log_err("run charon: not found in PATH nor in /usr/lib/ipsec and the other "
			"usual places (Debian package strongswan-charon)");
	return FL_ERR_UNAVAILABLE;
}

static int open_xfrm(struct nl **x)
{
	*x = xfrm_open();
	if (*x)
		return 0;
	log_err("open an XFRM netlink socket: %s%s", strerror(errno),
		errno == EPROTONOSUPPORT ? " (this kernel has no CONFIG_XFRM_USER)" : "");
	return errno == EPERM || errno == EACCES ? FL_ERR_PERM : FL_ERR_UNAVAILABLE;
}

int ipsec_run_init(const struct ipsec_opts *o)
{
	char path[4096];
	struct nl *x;
	int rc = open_xfrm(&x);

	if (rc)
		return rc;
	rc = esp_check(x);
	nl_close(x);
	return rc ? rc : find_charon(o, path, sizeof(path));
}

static int own_address(struct ctl *c)
{
	const struct ipsec_opts *o = c->o;
	struct iface ifc;
	int rc;

	if (o->public_ip) {
		if (addr_parse_family(o->public_ip, AF_INET, &c->own_ip) == 0)
			return 0;
		log_err("--public-ip %s: not an IPv4 address", o->public_ip);
		return FL_ERR_USAGE;
	}
	rc = o->iface ? iface_lookup(o->iface, AF_INET, &ifc) : iface_default(AF_INET, &ifc);
	if (rc < 0 || !ifc.addr.family) {
		log_err("find the underlay interface %s: no such interface or IPv4 address",
			o->iface ? o->iface : "of the default route");
		return FL_ERR_CONFIG;
	}
	c->own_ip = ifc.addr;
	return 0;
}

/* Ours, or the one at --vici; its socket within 10 s. */
static int start_charon(struct ctl *c)
{
	char err[4400];

	if (c->o->vici) {
		snprintf(c->vici, sizeof(c->vici), "%s", c->o->vici);
	} else {
		c->ch = (struct charon){ .run_dir = c->o->run_dir, .path = c->charon_path,
					 .self = c->o->self, .log_level = c->o->charon_log };
		if (charon_vici_path(c->o->run_dir, c->vici, sizeof(c->vici)) < 0) {
			log_err("--run-dir %s: too long", c->o->run_dir);
			return FL_ERR_USAGE;
		}
		unlink(c->vici);
		if (charon_start(&c->ch, err, sizeof(err)) < 0) {
			log_err("%s", err);
			return FL_ERR_OS;
		}
	}
	for (int i = 0; i < 100; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		int status;

		if (vici_up(c))
			return 0;
		if (!c->o->vici && charon_exited(&c->ch, &status)) {
			log_err("charon exited at its start (%s %d): see its messages above",
				WIFSIGNALED(status) ? "signal" : "status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return FL_ERR_UNAVAILABLE;
		}
		nanosleep(&ts, NULL);
	}
	vici_connect(&c->vc, c->vici, err, sizeof(err));
	log_err("%s (after 10 s)", err);
	return FL_ERR_UNAVAILABLE;
}

static int start(struct ctl *c)
{
	const struct ipsec_opts *o = c->o;
	struct itimerspec its = { .it_interval = { o->check_secs, 0 },
				  .it_value = { o->check_secs, 0 } };
	struct subnet_env env;
	int rc;

	if ((rc = open_xfrm(&c->x)) != 0 || (!o->no_esp_check && (rc = esp_check(c->x)) != 0) ||
	    (rc = find_charon(o, c->charon_path, sizeof(c->charon_path))) != 0 ||
	    (rc = own_address(c)) != 0)
		return rc;
	if (env_read(o->subnet_file, &env) == 0 && env.subnet.addr.family == AF_INET) {
		c->own = env.subnet;
		prefix_mask(&c->own);
		c->own_known = true;
		c->network = env.network;
	} else if (o->subnet_file_given) {
		log_warn("read %s: %s (waiting for our lease in the events)", o->subnet_file,
			 strerror(errno));
	}
	if ((rc = start_charon(c)) != 0)
		return rc;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0) {
		log_err("set up a timer: %s", strerror(errno));
		return FL_ERR_OS;
	}
	return 0;
}

static int on_state_tick(void *arg)
{
	return state_tick(((struct ctl *)arg)->state);
}

int ipsec_run_apply(const struct ipsec_opts *o)
{
	struct ctl c = { .o = o, .timer_fd = -1, .vc = { .fd = -1 }, .logc = { .fd = -1 } };
	struct event_sink s = { .event = on_event, .idle = on_idle, .signal = on_signal,
				.sigfd = o->sigfd, .extra = on_tick, .tick = on_state_tick, .arg = &c };
	int rc;

	htab_init(&c.peers, sizeof(struct peer), sizeof(struct prefix));
	c.state = state_new(o->state_dir, "flannel-ipsec", true);
	state_set_str(c.state, "backend", "ipsec");
	rc = start(&c);
	if (rc == 0) {
		s.extra_fd = c.timer_fd;
		rc = event_stream_run(STDIN_FILENO, &s);
	}
	if (c.timer_fd >= 0)
		close(c.timer_fd);
	vici_disconnect(&c.vc);
	vici_disconnect(&c.logc);
	charon_stop(&c.ch);
	htab_free(&c.peers);
	nl_close(c.x);
	state_free(c.state);
	return rc;
}
