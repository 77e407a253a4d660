/* udp_run.c - flannel-udp's control side.  flannel0 gets our subnet's
 * network address /32, the underlay MTU less 28 and one route for the whole
 * Network, as upstream; the packet threads (proxy.c) get a new forwarding
 * table whenever the input pauses after a change. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timefmt.h"
#include "model/env.h"
#include "model/event_stream.h"
#include "model/peer_set.h"
#include "netlink/iface.h"
#include "netlink/nl.h"
#include "status/state.h"
#include "udp/proxy.h"
#include "udp/tun.h"
#include "udp/udp_run.h"

/* IPv4 and UDP headers: what a datagram adds to the inner packet. */
#define UDP_OVERHEAD 28

struct entry {
	struct peer_head h;       /* the subnet */
	uint32_t public_ip;       /* network order */
};

struct udp_ctl {
	const struct udp_opts *o;
	struct nl *nl;
	struct udp_proxy *proxy;
	struct iface under;
	char dev[IFNAMSIZ];
	int ifindex, tun_fd, udp_fd, timer_fd;
	unsigned mtu;
	struct prefix own, network;
	bool own_set_up;
	struct peer_set peers;    /* struct entry */
	bool stats_written;
	uint64_t last[UDP_NCOUNTERS];    /* as last logged */
	uint64_t written[UDP_NCOUNTERS]; /* as last written to the stats file */
	int64_t last_log_ms;
	struct state *state;
};

/* Our ICMP errors come from flannel0's own address: without accept_local
 * the kernel takes them for spoofed (a local source arriving from outside)
 * and drops them, as it does upstream's. */
static void accept_local(const char *dev)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local", dev);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		log_warn("write %s: %s (ICMP net unreachable will not reach senders)", path,
			 strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Address, MTU, up, and the route for the Network; idempotent. */
static int setup_device(struct udp_ctl *c)
{
	struct nl_addr a = { .ifindex = c->ifindex, .pfx = { .addr = c->own.addr, .len = 32 } };
	struct nl_route r = { .dst = c->network, .oif = (uint32_t)c->ifindex,
			      .protocol = RTPROT_FLANNEL, .scope = RT_SCOPE_UNIVERSE,
			      .type = RTN_UNICAST };
	char p[ADDR_STRLEN];
	int rc;

	if (!c->own.addr.family)
		return 0;
	rc = nl_addr_change(c->nl, NL_CREATE, &a);
	if (rc == 0)
		rc = nl_link_set_mtu(c->nl, c->ifindex, c->mtu);
	if (rc == 0)
		accept_local(c->dev);
	if (rc == 0)
		rc = nl_link_set_up(c->nl, c->ifindex);
	if (rc == 0 && c->network.addr.family)
		rc = nl_route_change(c->nl, NL_CREATE, &r);
	if (rc < 0) {
		log_err("configure %s: %s", c->dev, nl_strerror(c->nl, rc));
		return rc;
	}
	if (!c->own_set_up)
		log_info("%s: address %s/32, MTU %u, route %s", c->dev,
			 addr_format(&c->own.addr, p, sizeof(p)), c->mtu,
			 c->network.addr.family ? prefix_format(&c->network, p, sizeof(p)) : "none");
	c->own_set_up = true;
	udp_proxy_set_own(c->proxy, c->own.addr.v4.s_addr);
	return 0;
}

static int open_socket(struct udp_ctl *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(c->o->port),
				  .sin_addr = c->under.addr.v4 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 16 << 20;
	char a[ADDR_STRLEN];

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_err("bind UDP %s:%u: %s", addr_format(&c->under.addr, a, sizeof(a)),
			c->o->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Bursts of a whole batch must not overflow the default buffers. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	c->udp_fd = fd;
	return 0;
}

static int find_underlay(struct udp_ctl *c)
{
	const char *spec = c->o->iface;
	int rc = spec ? iface_lookup(spec, AF_INET, &c->under) : iface_default(AF_INET, &c->under);

	if (rc < 0) {
		log_err("find the underlay interface %s: no such interface or IPv4 address",
			spec ? spec : "of the default route");
		return -1;
	}
	if (c->under.mtu <= UDP_OVERHEAD + 68) {
		log_err("%s: MTU %u is too small for udp", c->under.name, c->under.mtu);
		return -1;
	}
	c->mtu = c->under.mtu - UDP_OVERHEAD;
	return 0;
}

static int open_device(struct udp_ctl *c)
{
	struct nl_link l;
	int fd = tun_open("flannel%d", c->dev), rc;

	if (fd < 0) {
		log_err("open /dev/net/tun: %s%s", strerror(-fd),
			fd == -EPERM ? " (needs root or CAP_NET_ADMIN)" : "");
		return fd == -EPERM || fd == -EACCES ? FL_ERR_PERM : FL_ERR_UNAVAILABLE;
	}
	c->tun_fd = fd;
	rc = tun_offload(fd);
	if (rc < 0)
		log_warn("enable checksum and TSO offloads on %s: %s; one packet per read",
			 c->dev, strerror(-rc));
	rc = nl_link_get(c->nl, c->dev, 0, &l);
	if (rc < 0) {
		log_err("find %s: %s", c->dev, nl_strerror(c->nl, rc));
		return FL_ERR_OS;
	}
	c->ifindex = l.ifindex;
	log_info("created %s (udp over %s, port %u)", c->dev, c->under.name, c->o->port);
	return 0;
}

static int publish(void *arg)
{
	struct udp_ctl *c = arg;
	struct udp_peer *v = fl_calloc(peer_set_count(&c->peers) ? peer_set_count(&c->peers) : 1,
				       sizeof(*v));
	struct udp_table *t;
	struct entry *e;
	size_t it = 0, n = 0;

	if (!v) {
		log_err("build the forwarding table: out of memory (keeping the previous one)");
		return -1;
	}
	while ((e = peer_set_next(&c->peers, &it)))
		v[n++] = (struct udp_peer){ .net = e->h.key.addr.v4.s_addr,
					    .len = (uint8_t)e->h.key.len, .public_ip = e->public_ip };
	t = udp_table_build(v, n);
	free(v);
	if (!t) {
		log_err("build the forwarding table: out of memory (keeping the previous one)");
		return -1;
	}
	udp_proxy_publish(c->proxy, t);
	log_debug("forwarding table: %zu peers", n);
	return 0;
}

static int on_self(void *arg, const struct lease *l)
{
	struct udp_ctl *c = arg;

	if (!l->subnet.addr.family || prefix_equal(&l->subnet, &c->own))
		return 0;
	c->own = l->subnet;
	c->own_set_up = false;
	return setup_device(c) < 0 ? -1 : 0;
}

static int update(void *arg, void *rec, bool created, const struct lease *l)
{
	struct udp_ctl *c = arg;
	struct entry *e = rec;
	char err[200] = "", s[ADDR_STRLEN];
	bool changed;

	if (!l->subnet.addr.family) {
		state_refused(c->state, &l->subnet6, "an IPv6-only lease: udp carries IPv4");
		return -1;
	}
	if (peer_check_remote(&l->subnet, &l->public_ip, &c->own, &c->network, err,
			      sizeof(err)) < 0) {
		log_warn("skip lease %s: %s", prefix_format(&l->subnet, s, sizeof(s)), err);
		state_refused(c->state, &l->subnet, err);
		return -1;
	}
	changed = created || e->public_ip != l->public_ip.v4.s_addr;
	e->public_ip = l->public_ip.v4.s_addr;
	return changed;
}

static const struct peer_set_ops peer_ops = {
	.self = on_self, .update = update, .publish = publish,
};

static int on_event(void *arg, const struct event *ev)
{
	struct udp_ctl *c = arg;

	state_event(c->state, ev);
	return peer_set_event(&c->peers, ev);
}

static int on_idle(void *arg)
{
	struct udp_ctl *c = arg;

	peer_set_idle(&c->peers);
	udp_proxy_reclaim(c->proxy);
	return 0;
}

static void write_stats(struct udp_ctl *c, const uint64_t v[UDP_NCOUNTERS])
{
	char tmp[600];
	FILE *f;

	if (!c->o->stats_file)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->o->stats_file);
	f = fopen(tmp, "we");
	if (!f) {
		log_debug("write %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "{\"type\":\"udp-stats\",\"device\":\"%s\",\"peers\":%zu", c->dev,
		peer_set_count(&c->peers));
	for (int i = 0; i < UDP_NCOUNTERS; i++)
		fprintf(f, ",\"%s\":%llu", udp_counter_name((enum udp_counter)i),
			(unsigned long long)v[i]);
	fprintf(f, "}\n");
	if (fclose(f) != 0 || rename(tmp, c->o->stats_file) < 0)
		log_debug("write %s: %s", c->o->stats_file, strerror(errno));
}

static void log_drops(struct udp_ctl *c, const uint64_t v[UDP_NCOUNTERS], bool always)
{
	static const enum udp_counter drops[] = { UDP_NO_ROUTE, UDP_TTL_EXPIRED, UDP_NOT_PEER,
						  UDP_MALFORMED, UDP_OVERSIZED, UDP_SEND_ERRORS,
						  UDP_TUN_FULL };
	char line[512];
	size_t n = 0;
	bool any = false;

	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
		any |= v[drops[i]] != c->last[drops[i]];
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s %llu",
				      udp_counter_name(drops[i]), (unsigned long long)v[drops[i]]);
	}
	if (any || always)
		log_notice("packets: tx %llu, rx %llu; dropped:%s",
			   (unsigned long long)v[UDP_TX_PACKETS],
			   (unsigned long long)v[UDP_RX_PACKETS], line);
}

/* Once a second: the stats file; once a minute at most: new drops logged. */
static int on_tick(void *arg)
{
	struct udp_ctl *c = arg;
	uint64_t v[UDP_NCOUNTERS], ticks;
	int64_t now = mono_ms();

	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -1;
	on_idle(c);
	udp_proxy_counters(c->proxy, v);
	state_count_set(c->state, STATE_ERRORS, (unsigned long)v[UDP_SEND_ERRORS]);
	if (memcmp(v, c->written, sizeof(v)) != 0 || !c->stats_written) {
		write_stats(c, v);
		memcpy(c->written, v, sizeof(v));
		c->stats_written = true;
	}
	if (now - c->last_log_ms >= 60000) {
		log_drops(c, v, false);
		c->last_log_ms = now;
		memcpy(c->last, v, sizeof(v));
	}
	return 0;
}

static int on_state_tick(void *arg)
{
	return state_tick(((struct udp_ctl *)arg)->state);
}

static int on_signal(void *arg, int sig)
{
	struct udp_ctl *c = arg;

	if (sig == SIGTERM || sig == SIGINT) {
		log_info("stopping on signal %d: %s goes with us", sig, c->dev);
		return 1;
	}
	if (sig == SIGHUP) {
		log_notice("SIGHUP: configuring %s again", c->dev);
		c->own_set_up = false;
		return setup_device(c) < 0 ? -1 : 0;
	}
	return 0;
}

static int start(struct udp_ctl *c)
{
	struct udp_proxy_conf pc;
	struct subnet_env env;
	struct itimerspec its = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int rc;

	if (env_read(c->o->subnet_file, &env) == 0) {
		c->own = env.subnet;
		c->network = env.network;
	} else if (c->o->subnet_file_given) {
		log_warn("read %s: %s (waiting for our lease in the events)", c->o->subnet_file,
			 strerror(errno));
	}
	if (c->o->network.addr.family)
		c->network = c->o->network;
	if (find_underlay(c) < 0)
		return FL_ERR_CONFIG;
	if ((rc = open_device(c)) != 0)
		return rc;
	if (open_socket(c) < 0)
		return errno == EACCES ? FL_ERR_PERM : FL_ERR_UNAVAILABLE;
	pc = (struct udp_proxy_conf){ .tun_fd = c->tun_fd, .udp_fd = c->udp_fd,
				      .port = htons(c->o->port), .mtu = c->mtu };
	c->proxy = udp_proxy_start(&pc);
	if (!c->proxy) {
		log_err("start the packet threads: %s", strerror(errno));
		return FL_ERR_OS;
	}
	if (setup_device(c) < 0)
		return FL_ERR_FAILED;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0 || timerfd_settime(c->timer_fd, 0, &its, NULL) < 0) {
		log_err("set up a timer: %s", strerror(errno));
		return FL_ERR_OS;
	}
	c->last_log_ms = mono_ms();
	return 0;
}

int udp_run(const struct udp_opts *o)
{
	struct udp_ctl c = { .o = o, .tun_fd = -1, .udp_fd = -1, .timer_fd = -1 };
	struct event_sink s = { .event = on_event, .idle = on_idle, .signal = on_signal,
				.sigfd = o->sigfd, .extra = on_tick, .tick = on_state_tick, .arg = &c };
	uint64_t v[UDP_NCOUNTERS];
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
		c.state = state_new(o->state_dir, "flannel-udp", true);
		state_set_str(c.state, "backend", "udp");
		state_set_str(c.state, "device", c.dev);
		rc = event_stream_run(STDIN_FILENO, &s);
		udp_proxy_counters(c.proxy, v);
		log_drops(&c, v, true);
		write_stats(&c, v);
		state_free(c.state);
	}
	/* The packet threads end with the process; flannel0 with its descriptor. */
	peer_set_free(&c.peers);
	nl_close(c.nl);
	return rc;
}
