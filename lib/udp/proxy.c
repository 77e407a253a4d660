/* proxy.c - the two packet threads of flannel-udp.
 *
 * flannel0 -> peers: read packets until the TUN queue is empty or a batch
 * is full, route each (longest prefix), decrement its TTL, cut TCP
 * super-packets into MSS-sized packets (gso.h), and send the batch with one
 * sendmmsg whose entries carry whole trains of datagrams (UDP_SEGMENT).
 * peers -> flannel0: recvmmsg a batch (UDP_GRO: a message may hold many
 * datagrams), keep what comes from a lease's public IP and is one whole
 * IPv4 packet, decrement its TTL, merge consecutive TCP segments of a flow
 * into one super-packet, and write each to flannel0.  On the wire every
 * datagram is still one inner packet: upstream's format.  Tables are read by quiescent-state
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
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "udp/gso.h"
#include "udp/proxy.h"

#define BATCH 64            /* reads from flannel0 or messages from the socket */
#define SLOT 65536
#define MAXMSG 256          /* datagram entries of one sendmmsg */
#define ARENA (256u << 10) /* sent once full: bounds the delay a batch adds */
#define GSO_SEGS 64         /* UDP_SEGMENT's limits per entry */
#define GSO_BYTES 64000
#define QUIESCENT UINT64_MAX
#define TUN_FULL_WAIT_MS 10

enum { TX, RX, NTHREADS };

struct retired {
	struct udp_table *t;
	uint64_t gen;
};

union ctl {
	char b[CMSG_SPACE(sizeof(int))];
	struct cmsghdr h;
};

struct worker {
	struct udp_proxy *p;
	int id;
	_Atomic uint64_t seen;
	_Atomic uint64_t count[UDP_NCOUNTERS];
	unsigned char *buf;     /* TX: one read; RX: BATCH messages of SLOT */
	unsigned char *arena;   /* TX: what the batch sends */
	size_t used;            /* TX: bytes of arena queued in msg[0..n) */
	int n;
	bool gso;               /* TX: UDP_SEGMENT works */
	struct gro_tcp g;       /* RX: the run being merged */
	struct mmsghdr msg[MAXMSG];
	struct iovec iov[MAXMSG];
	struct sockaddr_in addr[MAXMSG];
	union ctl ctl[MAXMSG];
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

/* Write one packet to flannel0 behind a virtio_net_hdr (iov[0]): now or
 * within a short wait, else it is dropped and counted. */
static void tun_write(struct worker *w, const struct iovec *iov, int n)
{
	for (int tries = 0; tries < 2; tries++) {
		struct pollfd pfd = { .fd = w->p->c.tun_fd, .events = POLLOUT };

		if (writev(w->p->c.tun_fd, iov, n) >= 0)
			return;
		if (errno != EAGAIN && errno != EINTR)
			break;
		poll(&pfd, 1, TUN_FULL_WAIT_MS);
	}
	add(w, UDP_TUN_FULL, 1);
}

/* A packet as it is: no offload asked of the kernel. */
static void tun_write_plain(struct worker *w, const unsigned char *pkt, size_t len)
{
	static const struct virtio_net_hdr none;
	struct iovec iov[2] = { { .iov_base = (void *)&none, .iov_len = sizeof(none) },
				{ .iov_base = (void *)pkt, .iov_len = len } };

	tun_write(w, iov, 2);
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
	tun_write_plain(w, out, total);
}

static void send_all(struct worker *w, struct mmsghdr *m, int n);

/* The kernel will not segment (no UDP_SEGMENT for this route or socket):
 * send this train one datagram per packet, and every later one too. */
static void gso_refused(struct worker *w, struct mmsghdr *m)
{
	struct mmsghdr one[GSO_SEGS];
	struct iovec iov[GSO_SEGS];
	const struct iovec *v = m->msg_hdr.msg_iov;
	uint16_t seg;
	int k = 0;

	if (w->gso)
		log_warn("send UDP trains with UDP_SEGMENT: %s; one datagram per packet from now on",
			 strerror(errno));
	w->gso = false;
	memcpy(&seg, CMSG_DATA(CMSG_FIRSTHDR(&m->msg_hdr)), sizeof(seg));
	for (size_t off = 0; off < v->iov_len && k < GSO_SEGS; off += seg, k++) {
		iov[k] = (struct iovec){ .iov_base = (unsigned char *)v->iov_base + off,
					 .iov_len = v->iov_len - off < seg ? v->iov_len - off : seg };
		one[k].msg_hdr = (struct msghdr){ .msg_name = m->msg_hdr.msg_name,
						  .msg_namelen = m->msg_hdr.msg_namelen,
						  .msg_iov = &iov[k], .msg_iovlen = 1 };
	}
	send_all(w, one, k);
}

/* Send m[0..n): what the socket will not take now is waited for, never
 * spun on; a datagram the kernel refuses is counted and skipped. */
static void send_all(struct worker *w, struct mmsghdr *m, int n)
{
	int done = 0;

	while (done < n) {
		int r = sendmmsg(w->p->c.udp_fd, m + done, (unsigned)(n - done), 0);

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
		if (r < 0 && (errno == EINVAL || errno == EIO) && m[done].msg_hdr.msg_controllen)
			gso_refused(w, &m[done]);
		else
			add(w, UDP_SEND_ERRORS, 1);
		done++;
	}
}

static void tx_flush(struct worker *w)
{
	if (w->n)
		send_all(w, w->msg, w->n);
	w->n = 0;
	w->used = 0;
}

/* Room for bytes in the arena and entries more messages: else send now. */
static void tx_room(struct worker *w, size_t bytes, int entries)
{
	if (w->used + bytes > ARENA || w->n + entries > MAXMSG)
		tx_flush(w);
}

/* Queue the len bytes at the arena's end as one entry to nh: segs
 * datagrams of seglen bytes (the last may be shorter). */
static void tx_queue(struct worker *w, uint32_t nh, size_t len, size_t seglen, unsigned segs)
{
	int i = w->n++;
	struct msghdr *m = &w->msg[i].msg_hdr;

	w->addr[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = w->p->c.port,
					   .sin_addr = { .s_addr = nh } };
	w->iov[i] = (struct iovec){ .iov_base = w->arena + w->used, .iov_len = len };
	m->msg_control = NULL;
	m->msg_controllen = 0;
	if (segs > 1) {
		uint16_t gs = (uint16_t)seglen;

		m->msg_control = w->ctl[i].b;
		m->msg_controllen = CMSG_SPACE(sizeof(gs));
		w->ctl[i].h = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(gs)),
						.cmsg_level = SOL_UDP, .cmsg_type = UDP_SEGMENT };
		memcpy(CMSG_DATA(&w->ctl[i].h), &gs, sizeof(gs));
	}
	w->used += len;
	add(w, UDP_TX_PACKETS, segs);
	add(w, UDP_TX_BYTES, len);
}

static void tx_plain(struct worker *w, uint32_t nh, const unsigned char *pkt, size_t len)
{
	tx_room(w, len, 1);
	memcpy(w->arena + w->used, pkt, len);
	tx_queue(w, nh, len, len, 1);
}

/* A TCP super-packet: its segments in trains of at most GSO_SEGS and about
 * GSO_BYTES, one entry each (one per segment without UDP_SEGMENT). */
static void tx_super(struct worker *w, uint32_t nh, const unsigned char *pkt, size_t len,
		     unsigned mss)
{
	size_t seglen, need;
	unsigned n = gso_tcp4_plan(pkt, len, mss, &seglen, &need), per;
	bool gso = w->gso && seglen <= w->p->c.mtu;

	if (!n) {
		add(w, UDP_MALFORMED, 1);
		return;
	}
	/* seglen <= 64 KiB: a chunk always fits an empty arena. */
	per = (unsigned)((gso ? GSO_BYTES : ARENA) / seglen);
	per = per < 1 ? 1 : per > GSO_SEGS ? GSO_SEGS : per;
	for (unsigned k = 0; k < n; k += per) {
		unsigned cnt = n - k < per ? n - k : per;
		size_t at;

		tx_room(w, cnt * seglen, gso ? 1 : (int)cnt);
		at = gso_tcp4_segment(pkt, len, mss, k, cnt, w->arena + w->used);
		if (gso) {
			tx_queue(w, nh, at, seglen, cnt);
			continue;
		}
		for (size_t off = 0; off < at; off += seglen)
			tx_queue(w, nh, at - off < seglen ? at - off : seglen, seglen, 1);
	}
}

/* One read from flannel0: the virtio_net_hdr, then the packet. */
static void tx_packet(struct worker *w, const struct udp_table *t, size_t r)
{
	unsigned char *pkt = w->buf + VNET_HDR_LEN;
	size_t len = r - VNET_HDR_LEN;
	struct virtio_net_hdr vh;
	unsigned ihl;
	uint32_t nh, dst;

	if (r < VNET_HDR_LEN || !(ihl = ipv4_header(pkt, len))) {
		add(w, UDP_NOT_IPV4, 1);
		return;
	}
	memcpy(&vh, w->buf, sizeof(vh));
	memcpy(&dst, pkt + 16, 4);
	nh = udp_table_route(t, dst);
	if (!nh) {
		add(w, UDP_NO_ROUTE, 1);
		net_unreachable(w, pkt, len, ihl);
		return;
	}
	if (!ttl_decrement(pkt)) {
		add(w, UDP_TTL_EXPIRED, 1);
		return;
	}
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4) {
		tx_super(w, nh, pkt, len, vh.gso_size);
		return;
	}
	if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
	    ((vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	     gso_complete_csum(pkt, len, vh.csum_start, vh.csum_offset) < 0)) {
		add(w, UDP_MALFORMED, 1);
		return;
	}
	tx_plain(w, nh, pkt, len);
}

static void *tx_main(void *arg)
{
	struct worker *w = arg;
	const struct udp_proxy_conf *c = &w->p->c;

	for (;;) {
		const struct udp_table *t = enter(w);
		bool empty = false;

		for (int reads = 0; reads < BATCH;) {
			ssize_t r = read(c->tun_fd, w->buf, VNET_HDR_LEN + SLOT);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				empty = true;
				break;
			}
			reads++;
			tx_packet(w, t, (size_t)r);
		}
		tx_flush(w);
		if (empty) {
			struct pollfd pfd = { .fd = c->tun_fd, .events = POLLIN };

			quiesce(w);
			poll(&pfd, 1, -1);
		}
	}
	return NULL;
}

/* The merged run, if any, to flannel0. */
static void rx_flush(struct worker *w)
{
	struct iovec iov = { .iov_base = w->g.buf, .iov_len = gro_finish(&w->g) };

	if (iov.iov_len)
		tun_write(w, &iov, 1);
}

static void rx_datagram(struct worker *w, unsigned char *pkt, size_t len)
{
	if (len > w->p->c.mtu) {
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
	add(w, UDP_RX_PACKETS, 1);
	add(w, UDP_RX_BYTES, len);
	if (gro_append(&w->g, pkt, len))
		return;
	rx_flush(w); /* what was merged goes first: a flow stays in order */
	if (!gro_start(&w->g, pkt, len))
		tun_write_plain(w, pkt, len);
}

/* The datagram size UDP_GRO packed the message with; 0 for one datagram. */
static unsigned gro_size(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		int v;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO)
			continue;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		return v > 0 ? (unsigned)v : 0;
	}
	return 0;
}

static void rx_one(struct worker *w, const struct udp_table *t, int i)
{
	unsigned char *buf = w->buf + (size_t)i * SLOT;
	size_t len = w->msg[i].msg_len, d;
	unsigned gso = gro_size(&w->msg[i].msg_hdr);

	if (!udp_table_has_source(t, w->addr[i].sin_addr.s_addr)) {
		add(w, UDP_NOT_PEER, gso ? (len + gso - 1) / gso : 1);
		return;
	}
	if (w->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
		add(w, UDP_OVERSIZED, 1);
		return;
	}
	if (!len) {
		add(w, UDP_MALFORMED, 1);
		return;
	}
	for (size_t off = 0; (d = gro_datagram_len(len, gso, off)); off += d)
		rx_datagram(w, buf + off, d);
}

static void *rx_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		const struct udp_table *t;
		int n;

		for (int i = 0; i < BATCH; i++) {
			w->msg[i].msg_hdr.msg_namelen = sizeof(w->addr[i]);
			w->msg[i].msg_hdr.msg_controllen = sizeof(w->ctl[i]);
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
		rx_flush(w);
	}
	return NULL;
}

static int worker_init(struct udp_proxy *p, int id)
{
	struct worker *w = &p->w[id];

	w->p = p;
	w->id = id;
	atomic_init(&w->seen, QUIESCENT);
	if (id == TX) {
		int v;
		socklen_t l = sizeof(v);

		w->buf = fl_malloc(VNET_HDR_LEN + SLOT);
		w->arena = fl_malloc(ARENA);
		w->gso = getsockopt(p->c.udp_fd, SOL_UDP, UDP_SEGMENT, &v, &l) == 0;
		for (int i = 0; i < MAXMSG; i++)
			w->msg[i].msg_hdr = (struct msghdr){ .msg_name = &w->addr[i],
							     .msg_namelen = sizeof(w->addr[i]),
							     .msg_iov = &w->iov[i], .msg_iovlen = 1 };
		return w->buf && w->arena ? 0 : -1;
	}
	w->buf = fl_malloc((size_t)BATCH * SLOT);
	w->g.buf = fl_malloc(VNET_HDR_LEN + GSO_MAX);
	if (!w->buf || !w->g.buf)
		return -1;
	for (int i = 0; i < BATCH; i++) {
		w->iov[i] = (struct iovec){ .iov_base = w->buf + (size_t)i * SLOT, .iov_len = SLOT };
		w->msg[i].msg_hdr = (struct msghdr){ .msg_name = &w->addr[i],
						     .msg_namelen = sizeof(w->addr[i]),
						     .msg_iov = &w->iov[i], .msg_iovlen = 1,
						     .msg_control = w->ctl[i].b,
						     .msg_controllen = sizeof(w->ctl[i]) };
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
	/* Trains of datagrams from one peer arrive as one message (a kernel
	 * without it gives one datagram per message, which works as well). */
	if (setsockopt(c->udp_fd, SOL_UDP, UDP_GRO, &(int){ 1 }, sizeof(int)) < 0)
		log_warn("receive UDP trains with UDP_GRO: %s", strerror(errno));
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
