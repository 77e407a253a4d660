/* gso.h - the udp backend's offloads, as pure functions on buffers: finish
 * a partial checksum, cut a TCP super-packet read from flannel0 into the
 * MSS-sized IPv4 packets that go on the wire (one per datagram), find the
 * datagrams in a UDP_GRO buffer, and merge consecutive TCP segments of one
 * flow back into one super-packet for flannel0.  No threads, no system
 * calls: tests/unit/test_udp.c checks them on synthetic packets. */
#ifndef FLANNEL_UDP_GSO_H
#define FLANNEL_UDP_GSO_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_LEN sizeof(struct virtio_net_hdr)
/* The largest IPv4 packet, and so the largest super-packet either way. */
#define GSO_MAX 65535u

/* The Internet checksum over len bytes, added to sum, not folded.  The
 * sum is of the bytes as they lie in memory: store the folded result with
 * memcpy (no byte swap). */
uint32_t csum_partial(const void *p, size_t len, uint32_t sum);
/* Folded and inverted: the value to store in a checksum field. */
uint16_t csum_finish(uint32_t sum);
/* The TCP/UDP pseudo header of an IPv4 packet for len bytes of L4. */
uint32_t csum_pseudo4(const unsigned char *ip, unsigned proto, size_t len);

/* VIRTIO_NET_HDR_F_NEEDS_CSUM: sum from start to the end, store at
 * start + off.  -1 when the offsets do not lie inside the packet. */
int gso_complete_csum(unsigned char *pkt, size_t len, unsigned start, unsigned off);

/* A GSO_TCPV4 super-packet of len bytes (a whole IPv4 packet, TTL already
 * decremented) cut at mss payload bytes: the segment count, the length of
 * every segment but the last (*seglen) and the bytes they all take
 * (*need).  0 when it is no such packet. */
unsigned gso_tcp4_plan(const unsigned char *pkt, size_t len, unsigned mss, size_t *seglen,
		       size_t *need);
/* Write segments first .. first + count - 1 of that packet contiguously
 * into out: IP total length, id + k, a fresh IP checksum, seq + k * mss,
 * FIN and PSH only on the last, CWR only on the first, full TCP
 * checksums.  The bytes written. */
size_t gso_tcp4_segment(const unsigned char *pkt, size_t len, unsigned mss, unsigned first,
			unsigned count, unsigned char *out);

/* The datagram at off in a buffer of msglen bytes that UDP_GRO filled with
 * datagrams of gso_size bytes (the last may be shorter; 0: one datagram). */
size_t gro_datagram_len(size_t msglen, unsigned gso_size, size_t off);

/* A run of TCP segments being merged into one GSO_TCPV4 packet; buf holds
 * VNET_HDR_LEN + GSO_MAX bytes. */
struct gro_tcp {
	unsigned char *buf;
	size_t len;       /* bytes of IP packet after the header; 0: no run */
	unsigned nseg, hlen, mss;
	uint32_t seq;     /* the next segment must start here */
	bool closed;      /* PSH or a short segment ended the run */
};

/* Start a run with pkt (a whole IPv4 packet) if it could be merged with
 * what follows: false (nothing copied) when it must go alone. */
bool gro_start(struct gro_tcp *g, const unsigned char *pkt, size_t len);
/* Append pkt to the run if it is the next segment of the same flow. */
bool gro_append(struct gro_tcp *g, const unsigned char *pkt, size_t len);
/* End the run: fill the virtio_net_hdr (and, for two segments or more, the
 * merged IP and TCP headers); the bytes from buf to write, 0 for no run. */
size_t gro_finish(struct gro_tcp *g);

#endif
