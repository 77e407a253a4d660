/* The udp backend's offload functions (lib/udp/gso.c) on synthetic
 * packets: a TSO super-packet cut into segments (count, lengths, sequence
 * numbers, flags, IP ids, valid IP and TCP checksums), a partial checksum
 * completed, UDP_GRO buffers split into datagrams, and runs of TCP
 * segments merged (and what must not merge). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "udp/gso.h"

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* An IPv4/TCP packet, 12 bytes of options (timestamps), payload bytes of
 * a pattern starting at seq; checksums valid unless partial (then the TCP
 * field holds the pseudo-header sum, as the kernel hands TSO packets). */
static size_t tcp_packet(unsigned char *p, uint32_t seq, size_t payload, unsigned flags,
			 unsigned id, bool partial)
{
	size_t len = 20 + 32 + payload;
	uint16_t v;

	memset(p, 0, 52);
	p[0] = 0x45;
	put16(p + 2, (unsigned)len);
	put16(p + 4, id);
	p[6] = 0x40; /* DF */
	p[8] = 63;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, (unsigned char[]){ 198, 18, 1, 2, 198, 18, 2, 2 }, 8);
	put16(p + 20, 40000);
	put16(p + 22, 5201);
	put32(p + 24, seq);
	put32(p + 28, 777);
	p[32] = 8 << 4;
	p[33] = (unsigned char)flags;
	put16(p + 34, 512);
	memcpy(p + 40, (unsigned char[]){ 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2 }, 12);
	for (size_t i = 0; i < payload; i++)
		p[52 + i] = (unsigned char)(seq + i);
	v = csum_finish(csum_partial(p, 20, 0));
	memcpy(p + 10, &v, 2);
	if (partial) {
		v = (uint16_t)~csum_finish(csum_pseudo4(p, IPPROTO_TCP, len - 20));
	} else {
		v = csum_finish(csum_partial(p + 20, len - 20,
					     csum_pseudo4(p, IPPROTO_TCP, len - 20)));
	}
	memcpy(p + 36, &v, 2);
	return len;
}

static bool ip_ok(const unsigned char *p)
{
	return csum_finish(csum_partial(p, 20, 0)) == 0;
}

static bool tcp_ok(const unsigned char *p, size_t len)
{
	return csum_finish(csum_partial(p + 20, len - 20,
					csum_pseudo4(p, IPPROTO_TCP, len - 20))) == 0;
}

static void test_segment(void)
{
	static unsigned char sup[GSO_MAX], out[2 * GSO_MAX];
	size_t len = tcp_packet(sup, 0xfffff000u, 10000, 0x18 | 0x80 | 0x01, 65530, true);
	size_t seglen, need, at, off = 0;
	unsigned n = gso_tcp4_plan(sup, len, 1400, &seglen, &need), bad = 0;

	is_int(n, 8, "10000 bytes at MSS 1400: 8 segments");
	is_int(seglen, 52 + 1400, "a segment: headers + MSS");
	is_int(need, 10000 + 8 * 52, "the bytes they take");
	at = gso_tcp4_segment(sup, len, 1400, 0, 3, out);
	at += gso_tcp4_segment(sup, len, 1400, 3, 5, out + at);
	is_int(at, need, "written in two calls, contiguous");
	for (unsigned k = 0; k < n; k++) {
		unsigned char *s = out + off;
		size_t l = k + 1 < n ? 1452 : 52 + 10000 - 7 * 1400;

		bad += get16(s + 2) != l || !ip_ok(s) || !tcp_ok(s, l);
		bad += get32(s + 24) != 0xfffff000u + k * 1400;
		bad += get16(s + 4) != ((65530 + k) & 0xffff);
		bad += memcmp(s + 52, sup + 52 + k * 1400, l - 52) != 0;
		bad += memcmp(s + 40, sup + 40, 12) != 0;
		if (k == 0)
			bad += s[33] != (0x10 | 0x80);
		else if (k + 1 < n)
			bad += s[33] != 0x10;
		else
			bad += s[33] != (0x10 | 0x08 | 0x01);
		off += l;
	}
	is_int(bad, 0, "lengths, seq (wrapping), ids, payload, flags, IP and TCP checksums");
	is_int(gso_tcp4_plan(sup, 30, 1400, &seglen, &need), 0, "a short packet is refused");
	is_int(gso_tcp4_plan(sup, len, 0, &seglen, &need), 0, "MSS 0 is refused");
	sup[9] = IPPROTO_UDP;
	is_int(gso_tcp4_plan(sup, len, 1400, &seglen, &need), 0, "not TCP: refused");
}

static void test_complete_csum(void)
{
	unsigned char p[200];
	size_t len = tcp_packet(p, 1, 100, 0x10, 1, true);

	ok(!tcp_ok(p, len), "a partial checksum does not verify");
	is_int(gso_complete_csum(p, len, 20, 16), 0, "completed");
	ok(tcp_ok(p, len), "then it does");
	is_int(gso_complete_csum(p, len, 20, 200), -1, "an offset outside the packet is refused");
}

static void test_gro_split(void)
{
	is_int(gro_datagram_len(100, 0, 0), 100, "no GRO: one datagram");
	is_int(gro_datagram_len(100, 0, 100), 0, "then none");
	is_int(gro_datagram_len(3000, 1400, 0), 1400, "first of a train");
	is_int(gro_datagram_len(3000, 1400, 1400), 1400, "second");
	is_int(gro_datagram_len(3000, 1400, 2800), 200, "the short last one");
	is_int(gro_datagram_len(3000, 1400, 3000), 0, "the end");
}

static size_t merge(struct gro_tcp *g, unsigned char (*p)[2000], const size_t *len, int n)
{
	int i = 0;

	if (!gro_start(g, p[0], len[0]))
		return 0;
	while (++i < n && gro_append(g, p[i], len[i]))
		;
	return (size_t)i;
}

static void test_merge(void)
{
	static unsigned char buf[VNET_HDR_LEN + GSO_MAX], p[4][2000];
	struct gro_tcp g = { .buf = buf };
	struct virtio_net_hdr vh;
	size_t len[4], out;
	unsigned char *h = buf + VNET_HDR_LEN;
	uint16_t v;

	for (int i = 0; i < 3; i++)
		len[i] = tcp_packet(p[i], 1000 + (uint32_t)i * 1400, 1400, 0x10, 5, false);
	len[3] = tcp_packet(p[3], 1000 + 3 * 1400, 300, 0x18, 5, false);
	is_int(merge(&g, p, len, 4), 4, "three full segments and a short PSH one merge");
	out = gro_finish(&g);
	is_int(out, VNET_HDR_LEN + 52 + 3 * 1400 + 300, "one packet");
	memcpy(&vh, buf, sizeof(vh));
	ok(vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && vh.gso_size == 1400 && vh.hdr_len == 52 &&
		   vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && vh.csum_start == 20 &&
		   vh.csum_offset == 16,
	   "virtio_net_hdr: GSO_TCPV4, gso_size, hdr_len, csum_start/offset");
	ok(get16(h + 2) == out - VNET_HDR_LEN && ip_ok(h) && (h[33] & 0x08), "IP length, checksum, PSH");
	v = (uint16_t)~csum_finish(csum_pseudo4(h, IPPROTO_TCP, out - VNET_HDR_LEN - 20));
	ok(!memcmp(h + 36, &v, 2), "the TCP field holds the pseudo-header sum");
	ok(!memcmp(h + 52 + 1400, p[1] + 52, 1400) && !memcmp(h + 52 + 4200, p[3] + 52, 300),
	   "payloads in order");
	ok(gro_finish(&g) == 0, "the run is over");

	/* A gap in the sequence. */
	tcp_packet(p[1], 1000 + 1400 + 1, 1400, 0x10, 5, false);
	is_int(merge(&g, p, len, 3), 1, "a gap ends the run");
	out = gro_finish(&g);
	memcpy(&vh, buf, sizeof(vh));
	ok(out == VNET_HDR_LEN + len[0] && vh.gso_type == 0 && vh.flags == 0 &&
		   !memcmp(h, p[0], len[0]),
	   "a run of one goes as it came, with a zero header");
	/* Flags: FIN, or a PSH in the middle (nothing may follow it). */
	tcp_packet(p[1], 1000 + 1400, 1400, 0x11, 5, false);
	is_int(merge(&g, p, len, 3), 1, "FIN does not merge");
	gro_finish(&g);
	tcp_packet(p[1], 1000 + 1400, 1400, 0x18, 5, false);
	is_int(merge(&g, p, len, 3), 2, "PSH merges and closes the run");
	gro_finish(&g);
	ok(!gro_start(&g, p[1], len[1]), "a PSH segment does not start one");
	/* Another flow: a different port. */
	tcp_packet(p[1], 1000 + 1400, 1400, 0x10, 5, false);
	p[1][22] ^= 1;
	v = 0;
	memcpy(p[1] + 36, &v, 2);
	v = csum_finish(csum_partial(p[1] + 20, len[1] - 20, csum_pseudo4(p[1], IPPROTO_TCP, len[1] - 20)));
	memcpy(p[1] + 36, &v, 2);
	is_int(merge(&g, p, len, 3), 1, "another flow does not merge");
	gro_finish(&g);
	/* A bad TCP checksum is not laundered. */
	tcp_packet(p[1], 1000 + 1400, 1400, 0x10, 5, false);
	p[1][100] ^= 0xff;
	is_int(merge(&g, p, len, 3), 1, "a segment with a bad checksum does not merge");
	gro_finish(&g);
	ok(!gro_start(&g, p[1], len[1]), "nor start a run");
	/* A longer segment after a shorter first one. */
	len[0] = tcp_packet(p[0], 1000, 1000, 0x10, 5, false);
	len[1] = tcp_packet(p[1], 2000, 1400, 0x10, 5, false);
	is_int(merge(&g, p, len, 2), 1, "a segment longer than the first does not merge");
	gro_finish(&g);
	/* A UDP packet never starts one. */
	p[0][9] = IPPROTO_UDP;
	ok(!gro_start(&g, p[0], len[0]), "not TCP: alone");
}

int main(void)
{
	test_segment();
	test_complete_csum();
	test_gro_split();
	test_merge();
	return tap_done();
}
