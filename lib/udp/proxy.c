/* proxy.c - the two packet threads of flannel-udp.
 *
 * flannel0 -> peers: read packets until the TUN queue is empty or a batch
 * is full, route each (longest prefix), decrement its TTL, and send the
 * batch with one sendmmsg.  peers -> flannel0: recvmmsg a batch, keep what
 * comes from a lease's public IP and is one whole IPv4 packet, decrement
 * its TTL, and write it to flannel0.  Tables are read by quiescent-state
 * reclamation: a thread announces the generation it entered a batch with,
 * or that it holds none while it sleeps; a retired table is freed once
 * every thread is past it. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "udp/proxy.h"

#define BATCH 64
#define SLOT 65536
#define QUIESCENT UINT64_MAX
#define TUN_FULL_WAIT_MS 10

enum { TX, RX, NTHREADS };

struct retired {
	struct udp_table *t;
	uint64_t gen;
};

struct worker {
	struct udp_proxy *p;
	int id;
	_Atomic uint64_t seen;
	_Atomic uint64_t count[UDP_NCOUNTERS];
	unsigned char (*buf)[SLOT];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in addr[BATCH];
	pthread_t thread;
} __attribute__((aligned(64)));

struct udp_proxy {
	struct udp_proxy_conf c;
	_Atomic(struct udp_table *) cur;
	_Atomic uint64_t gen;
	_Atomic uint32_t own;
	struct worker w[NTHREADS];
	struct retired *retired;   /* control side only */
	size_t nretired, cap;
};

static const char *const counter_names[UDP_NCOUNTERS] = {
	[UDP_TX_PACKETS] = "tx_packets", [UDP_TX_BYTES] = "tx_bytes",
	[UDP_RX_PACKETS] = "rx_packets", [UDP_RX_BYTES] = "rx_bytes",
	[UDP_NO_ROUTE] = "no_route", [UDP_NOT_IPV4] = "not_ipv4",
	[UDP_TTL_EXPIRED] = "ttl_expired",
	[UDP_NOT_PEER] = "not_peer", [UDP_MALFORMED] = "malformed",
	[UDP_OVERSIZED] = "oversized", [UDP_SEND_ERRORS] = "send_errors",
	[UDP_TUN_FULL] = "tun_full",
};

const char *udp_counter_name(enum udp_counter c)
{
	return c < UDP_NCOUNTERS ? counter_names[c] : "?";
}

/* Only the owning thread writes its counters: no atomic read-modify-write. */
static void add(struct worker *w, enum udp_counter c, uint64_t n)
{
	atomic_store_explicit(&w->count[c],
			      atomic_load_explicit(&w->count[c], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static const struct udp_table *enter(struct worker *w)
{
	atomic_store(&w->seen, atomic_load(&w->p->gen));
	return atomic_load(&w->p->cur);
}

static void quiesce(struct worker *w)
{
	atomic_store(&w->seen, QUIESCENT);
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

/* A whole IPv4 packet of exactly len bytes: its header length, or 0. */
static unsigned ipv4_header(const unsigned char *p, size_t len)
{
	unsigned ihl;

	if (len < 20 || (p[0] >> 4) != 4)
		return 0;
	ihl = (p[0] & 15u) * 4;
	if (ihl < 20 || ihl > len || (size_t)(p[2] << 8 | p[3]) != len)
		return 0;
	return ihl;
}

/* TTL down by one with the checksum patched in place (RFC 1624); false
 * when the packet must die here. */
static bool ttl_decrement(unsigned char *p)
{
	uint32_t check;

	if (p[8] <= 1)
		return false;
	p[8]--;
	check = (uint32_t)(p[10] << 8 | p[11]) + 0x0100;
	check += check >> 16;
	p[10] = (unsigned char)(check >> 8);
	p[11] = (unsigned char)check;
	return true;
}

/* ICMP net unreachable from flannel0's address, quoting the header and 8
 * bytes, as upstream: not about ICMP, later fragments or long headers. */
static void net_unreachable(struct worker *w, const unsigned char *pkt, size_t len, unsigned ihl)
{
	uint32_t own = atomic_load_explicit(&w->p->own, memory_order_relaxed);
	unsigned char out[20 + 8 + 60 + 8];
	size_t quote = ihl + 8 < len ? ihl + 8 : len, total = 28 + quote;
	uint16_t sum;

	if (!own || pkt[9] == IPPROTO_ICMP || ((pkt[6] & 0x1f) | pkt[7]) || ihl >= 60)
		return;
	memset(out, 0, 28);
	out[0] = 0x45;
	out[2] = (unsigned char)(total >> 8);
	out[3] = (unsigned char)total;
	out[8] = 8;
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, &own, 4);
	memcpy(out + 16, pkt + 12, 4);
	sum = csum_fold(csum_add(0, out, 20));
	out[10] = (unsigned char)(sum >> 8);
	out[11] = (unsigned char)sum;
	out[20] = 3; /* destination unreachable, code 0: net */
	memcpy(out + 28, pkt, quote);
	sum = csum_fold(csum_add(0, out + 20, 8 + quote));
	out[22] = (unsigned char)(sum >> 8);
	out[23] = (unsigned char)sum;
	if (write(w->p->c.tun_fd, out, total) < 0)
		add(w, UDP_TUN_FULL, 1);
}

/* Send msg[0..n): what the socket will not take now is waited for, never
 * spun on; a datagram the kernel refuses is counted and skipped. */
static void send_batch(struct worker *w, int n)
{
	int done = 0;

	while (done < n) {
		int r = sendmmsg(w->p->c.udp_fd, w->msg + done, (unsigned)(n - done), 0);

		if (r > 0) {
			done += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			struct pollfd pfd = { .fd = w->p->c.udp_fd, .events = POLLOUT };

			poll(&pfd, 1, 100);
			continue;
		}
		add(w, UDP_SEND_ERRORS, 1);
		done++;
	}
}

static void *tx_main(void *arg)
{
	struct worker *w = arg;
	const struct udp_proxy_conf *c = &w->p->c;

	for (;;) {
		const struct udp_table *t = enter(w);
		uint64_t bytes = 0;
		int n = 0;
		bool empty = false;

		while (n < BATCH) {
			unsigned char *pkt = w->buf[n];
			ssize_t r = read(c->tun_fd, pkt, SLOT);
			unsigned ihl;
			uint32_t nh, dst;

			if (r < 0) {
				if (errno == EINTR)
					continue;
				empty = true;
				break;
			}
			ihl = ipv4_header(pkt, (size_t)r);
			if (!ihl) {
				add(w, UDP_NOT_IPV4, 1);
				continue;
			}
			memcpy(&dst, pkt + 16, 4);
			nh = udp_table_route(t, dst);
			if (!nh) {
				add(w, UDP_NO_ROUTE, 1);
				net_unreachable(w, pkt, (size_t)r, ihl);
				continue;
			}
			if (!ttl_decrement(pkt)) {
				add(w, UDP_TTL_EXPIRED, 1);
				continue;
			}
			w->addr[n] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = c->port,
							   .sin_addr = { .s_addr = nh } };
			w->iov[n].iov_len = (size_t)r;
			bytes += (uint64_t)r;
			n++;
		}
		if (n) {
			send_batch(w, n);
			add(w, UDP_TX_PACKETS, (uint64_t)n);
			add(w, UDP_TX_BYTES, bytes);
		}
		if (empty) {
			struct pollfd pfd = { .fd = c->tun_fd, .events = POLLIN };

			quiesce(w);
			poll(&pfd, 1, -1);
		}
	}
	return NULL;
}

/* flannel0 takes it now or within a short wait; else it is dropped. */
static void tun_write(struct worker *w, const unsigned char *pkt, size_t len)
{
	for (int tries = 0; tries < 2; tries++) {
		struct pollfd pfd = { .fd = w->p->c.tun_fd, .events = POLLOUT };

		if (write(w->p->c.tun_fd, pkt, len) >= 0)
			return;
		if (errno != EAGAIN && errno != EINTR)
			break;
		poll(&pfd, 1, TUN_FULL_WAIT_MS);
	}
	add(w, UDP_TUN_FULL, 1);
}

static void rx_one(struct worker *w, const struct udp_table *t, int i)
{
	unsigned char *pkt = w->buf[i];
	size_t len = w->msg[i].msg_len;

	if (!udp_table_has_source(t, w->addr[i].sin_addr.s_addr)) {
		add(w, UDP_NOT_PEER, 1);
		return;
	}
	if ((w->msg[i].msg_hdr.msg_flags & MSG_TRUNC) || len > w->p->c.mtu) {
		add(w, UDP_OVERSIZED, 1);
		return;
	}
	if (!ipv4_header(pkt, len)) {
		add(w, UDP_MALFORMED, 1);
		return;
	}
	if (!ttl_decrement(pkt)) {
		add(w, UDP_TTL_EXPIRED, 1);
		return;
	}
	tun_write(w, pkt, len);
	add(w, UDP_RX_PACKETS, 1);
	add(w, UDP_RX_BYTES, len);
}

static void *rx_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		const struct udp_table *t;
		int n;

		for (int i = 0; i < BATCH; i++) {
			w->msg[i].msg_hdr.msg_namelen = sizeof(w->addr[i]);
			w->msg[i].msg_hdr.msg_flags = 0;
		}
		quiesce(w);
		n = recvmmsg(w->p->c.udp_fd, w->msg, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				struct pollfd pfd = { .fd = w->p->c.udp_fd, .events = POLLIN };

				poll(&pfd, 1, 100); /* an ICMP error queued on the socket */
			}
			continue;
		}
		t = enter(w);
		for (int i = 0; i < n; i++)
			rx_one(w, t, i);
	}
	return NULL;
}

static int worker_init(struct udp_proxy *p, int id)
{
	struct worker *w = &p->w[id];

	w->p = p;
	w->id = id;
	atomic_init(&w->seen, QUIESCENT);
	w->buf = fl_malloc((size_t)BATCH * SLOT);
	if (!w->buf)
		return -1;
	for (int i = 0; i < BATCH; i++) {
		w->iov[i] = (struct iovec){ .iov_base = w->buf[i], .iov_len = SLOT };
		w->msg[i].msg_hdr = (struct msghdr){ .msg_name = &w->addr[i],
						     .msg_namelen = sizeof(w->addr[i]),
						     .msg_iov = &w->iov[i], .msg_iovlen = 1 };
	}
	return 0;
}

struct udp_proxy *udp_proxy_start(const struct udp_proxy_conf *c)
{
	struct udp_proxy *p = fl_calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return NULL;
	p->c = *c;
	atomic_init(&p->cur, NULL);
	atomic_init(&p->gen, 1);
	atomic_init(&p->own, 0);
	if (worker_init(p, TX) < 0 || worker_init(p, RX) < 0)
		goto fail;
	rc = pthread_create(&p->w[TX].thread, NULL, tx_main, &p->w[TX]);
	if (rc == 0 && (rc = pthread_create(&p->w[RX].thread, NULL, rx_main, &p->w[RX])) != 0)
		log_err("start the receive thread: %s", strerror(rc));
	if (rc == 0)
		return p;
	errno = rc;
fail:
	/* A started thread is left running: the caller exits. */
	return NULL;
}

void udp_proxy_set_own(struct udp_proxy *p, uint32_t addr)
{
	atomic_store(&p->own, addr);
}

void udp_proxy_publish(struct udp_proxy *p, struct udp_table *t)
{
	struct udp_table *old = atomic_exchange(&p->cur, t);
	uint64_t gen = atomic_fetch_add(&p->gen, 1) + 1;

	if (old) {
		if (p->nretired == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 8;
			struct retired *r = fl_realloc(p->retired, cap * sizeof(*r));

			if (!r) {
				/* Cannot remember it: keeping it is safe, freeing it is not. */
				log_warn("remember a retired forwarding table: out of memory");
				return;
			}
			p->retired = r;
			p->cap = cap;
		}
		p->retired[p->nretired++] = (struct retired){ .t = old, .gen = gen };
	}
	udp_proxy_reclaim(p);
}

void udp_proxy_reclaim(struct udp_proxy *p)
{
	uint64_t min = QUIESCENT;
	size_t k = 0;

	for (int i = 0; i < NTHREADS; i++) {
		uint64_t s = atomic_load(&p->w[i].seen);

		if (s < min)
			min = s;
	}
	for (size_t i = 0; i < p->nretired; i++) {
		if (p->retired[i].gen <= min)
			udp_table_free(p->retired[i].t);
		else
			p->retired[k++] = p->retired[i];
	}
	p->nretired = k;
}

void udp_proxy_counters(const struct udp_proxy *p, uint64_t out[UDP_NCOUNTERS])
{
	for (int c = 0; c < UDP_NCOUNTERS; c++) {
		out[c] = 0;
		for (int i = 0; i < NTHREADS; i++)
			out[c] += atomic_load_explicit(&p->w[i].count[c], memory_order_relaxed);
	}
}
