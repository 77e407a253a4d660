/* gso.c - segmentation and merging of TCP super-packets for flannel-udp.
 *
 * Checksums are summed over the bytes as they lie in memory (native loads),
 * which gives the one's complement sum in memory order (RFC 1071: the sum
 * is independent of byte order), so results are stored with memcpy. */
#include <netinet/in.h>
#include <string.h>

#include "udp/gso.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* One's complement add of 64-bit words. */
static uint64_t add64(uint64_t a, uint64_t b)
{
	a += b;
	return a + (a < b);
}

uint32_t csum_partial(const void *p, size_t len, uint32_t sum)
{
	const unsigned char *b = p;
	unsigned __int128 s = sum; /* 64-bit words: no carry is lost below 2^64 of them */
	uint64_t t;

	for (; len >= 32; b += 32, len -= 32) {
		uint64_t x[4];

		memcpy(x, b, 32);
		s += (unsigned __int128)x[0] + x[1] + x[2] + x[3];
	}
	for (; len >= 8; b += 8, len -= 8) {
		uint64_t x;

		memcpy(&x, b, 8);
		s += x;
	}
	t = add64((uint64_t)s, (uint64_t)(s >> 64));
	for (; len >= 2; b += 2, len -= 2) {
		uint16_t x;

		memcpy(&x, b, 2);
		t = add64(t, x);
	}
	if (len) {
		uint16_t x = 0;

		memcpy(&x, b, 1); /* the odd byte is the high-order one of its word */
		t = add64(t, x);
	}
	t = (t & 0xffffffffu) + (t >> 32);
	t = (t & 0xffffffffu) + (t >> 32);
	return (uint32_t)t;
}

static uint16_t csum_fold16(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t csum_finish(uint32_t sum)
{
	return (uint16_t)~csum_fold16(sum);
}

uint32_t csum_pseudo4(const unsigned char *ip, unsigned proto, size_t len)
{
	unsigned char w[4] = { 0, (unsigned char)proto, (unsigned char)(len >> 8),
			       (unsigned char)len };

	return csum_partial(w, 4, csum_partial(ip + 12, 8, 0));
}

int gso_complete_csum(unsigned char *pkt, size_t len, unsigned start, unsigned off)
{
	uint16_t v;

	if ((size_t)start + off + 2 > len)
		return -1;
	v = csum_finish(csum_partial(pkt + start, len - start, 0));
	if (!v)
		v = 0xffff; /* as the kernel does: 0 means "no checksum" to UDP */
	memcpy(pkt + start + off, &v, 2);
	return 0;
}

unsigned gso_tcp4_plan(const unsigned char *pkt, size_t len, unsigned mss, size_t *seglen,
		       size_t *need)
{
	unsigned ihl, thl;
	size_t payload, n;

	if (len < 40 || pkt[9] != IPPROTO_TCP || !mss || ((pkt[6] & 0x3f) | pkt[7]))
		return 0;
	ihl = (pkt[0] & 15u) * 4;
	if (ihl < 20 || len < ihl + 20u)
		return 0;
	thl = (pkt[ihl + 12] >> 4) * 4u;
	if (thl < 20 || len <= ihl + thl)
		return 0;
	payload = len - ihl - thl;
	n = (payload + mss - 1) / mss;
	*seglen = ihl + thl + (payload < mss ? payload : mss);
	*need = payload + n * (ihl + thl);
	return (unsigned)n;
}

/* Segment k (payload plen bytes) of the super-packet into o. */
static void segment_one(const unsigned char *pkt, unsigned ihl, unsigned thl, unsigned mss,
			unsigned k, size_t plen, bool last, unsigned char *o)
{
	unsigned hlen = ihl + thl;
	unsigned char f = pkt[ihl + 13];
	uint16_t v;

	memcpy(o, pkt, hlen);
	put16(o + 2, (uint32_t)(hlen + plen));
	put16(o + 4, get16(pkt + 4) + k);
	o[10] = o[11] = 0;
	v = csum_finish(csum_partial(o, ihl, 0));
	memcpy(o + 10, &v, 2);
	put32(o + ihl + 4, get32(pkt + ihl + 4) + k * mss);
	if (!last)
		f &= (unsigned char)~(TCP_FIN | TCP_PSH);
	if (k)
		f &= (unsigned char)~TCP_CWR;
	o[ihl + 13] = f;
	o[ihl + 16] = o[ihl + 17] = 0;
	memcpy(o + hlen, pkt + hlen + (size_t)k * mss, plen);
	v = csum_finish(csum_partial(o + ihl, thl + plen, csum_pseudo4(o, IPPROTO_TCP, thl + plen)));
	memcpy(o + ihl + 16, &v, 2);
}

size_t gso_tcp4_segment(const unsigned char *pkt, size_t len, unsigned mss, unsigned first,
			unsigned count, unsigned char *out)
{
	unsigned ihl = (pkt[0] & 15u) * 4, thl = (pkt[ihl + 12] >> 4) * 4u;
	size_t payload = len - ihl - thl, n = (payload + mss - 1) / mss, at = 0;

	for (unsigned k = first; k < first + count && k < n; k++) {
		size_t off = (size_t)k * mss, plen = payload - off < mss ? payload - off : mss;

		segment_one(pkt, ihl, thl, mss, k, plen, k + 1 == n, out + at);
		at += ihl + thl + plen;
	}
	return at;
}

size_t gro_datagram_len(size_t msglen, unsigned gso_size, size_t off)
{
	if (off >= msglen)
		return 0;
	if (!gso_size || msglen - off < gso_size)
		return msglen - off;
	return gso_size;
}

/* The TCP header length of a segment that may be merged: IPv4 without
 * options, not a fragment, ACK (PSH allowed), some payload, and IP and TCP
 * checksums that hold.  The UDP checksum covered the segment in transit,
 * but a peer may send UDP checksum 0 or a segment that was already bad:
 * merging recomputes both checksums, so it must not launder a bad one.
 * 0: the segment goes to flannel0 alone, for the kernel to judge. */
static unsigned mergeable(const unsigned char *pkt, size_t len)
{
	unsigned thl;

	if (len < 40 || pkt[0] != 0x45 || pkt[9] != IPPROTO_TCP || ((pkt[6] & 0x3f) | pkt[7]))
		return 0;
	thl = (pkt[32] >> 4) * 4u;
	if (thl < 20 || len <= 20 + thl || (pkt[33] & ~TCP_PSH) != TCP_ACK)
		return 0;
	if (csum_finish(csum_partial(pkt, 20, 0)) ||
	    csum_finish(csum_partial(pkt + 20, len - 20, csum_pseudo4(pkt, IPPROTO_TCP, len - 20))))
		return 0;
	return thl;
}

bool gro_start(struct gro_tcp *g, const unsigned char *pkt, size_t len)
{
	unsigned thl = mergeable(pkt, len);

	if (!thl || (pkt[33] & TCP_PSH) || len > GSO_MAX)
		return false;
	memcpy(g->buf + VNET_HDR_LEN, pkt, len);
	g->len = len;
	g->nseg = 1;
	g->hlen = 20 + thl;
	g->mss = (unsigned)(len - g->hlen);
	g->seq = get32(pkt + 24) + g->mss;
	g->closed = false;
	return true;
}

/* The same flow and the same everything a merge would lose. */
static bool same_flow(const struct gro_tcp *g, const unsigned char *h, const unsigned char *pkt)
{
	bool df = h[6] & 0x40;

	if (memcmp(pkt + 12, h + 12, 12) || pkt[1] != h[1] || pkt[8] != h[8] ||
	    (pkt[6] & 0x40) != (h[6] & 0x40))
		return false;
	/* Without DF the ids must count up, as segmentation will make them. */
	if (!df && get16(pkt + 4) != (uint16_t)(get16(h + 4) + g->nseg))
		return false;
	/* The ack number and the options (timestamps included) identical. */
	return !memcmp(pkt + 28, h + 28, 4) && !memcmp(pkt + 40, h + 40, g->hlen - 40);
}

bool gro_append(struct gro_tcp *g, const unsigned char *pkt, size_t len)
{
	unsigned char *h = g->buf + VNET_HDR_LEN;
	size_t plen;

	if (!g->len || g->closed || len <= g->hlen || 20 + ((pkt[32] >> 4) * 4u) != g->hlen)
		return false;
	plen = len - g->hlen;
	if (plen > g->mss || g->len + plen > GSO_MAX || get32(pkt + 24) != g->seq)
		return false;
	if (!same_flow(g, h, pkt) || !mergeable(pkt, len))
		return false;
	memcpy(h + g->len, pkt + g->hlen, plen);
	memcpy(h + 34, pkt + 34, 2); /* the latest window */
	g->len += plen;
	g->seq += (uint32_t)plen;
	g->nseg++;
	if (pkt[33] & TCP_PSH) {
		h[33] |= TCP_PSH;
		g->closed = true;
	}
	if (plen < g->mss)
		g->closed = true;
	return true;
}

size_t gro_finish(struct gro_tcp *g)
{
	struct virtio_net_hdr vh = { 0 };
	unsigned char *h = g->buf + VNET_HDR_LEN;
	size_t len = g->len;
	uint16_t v;

	if (!len)
		return 0;
	g->len = 0;
	if (g->nseg > 1) {
		put16(h + 2, (uint32_t)len);
		h[10] = h[11] = 0;
		v = csum_finish(csum_partial(h, 20, 0));
		memcpy(h + 10, &v, 2);
		/* The partial checksum: the pseudo header, folded, not inverted. */
		v = csum_fold16(csum_pseudo4(h, IPPROTO_TCP, len - 20));
		memcpy(h + 36, &v, 2);
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = (uint16_t)g->hlen;
		vh.gso_size = (uint16_t)g->mss;
		vh.csum_start = 20;
		vh.csum_offset = 16;
	}
	memcpy(g->buf, &vh, sizeof(vh));
	return VNET_HDR_LEN + len;
}
