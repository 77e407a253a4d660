/* proxy.h - the udp backend's packets: flannel0 <-> UDP datagrams whose
 * payload is exactly the inner IPv4 packet (upstream's wire format).  Two
 * threads, one per direction, batched with recvmmsg/sendmmsg, no lock,
 * allocation or pipe per packet; the control side publishes whole
 * forwarding tables (peers.h) that the threads pick up between batches. */
#ifndef FLANNEL_UDP_PROXY_H
#define FLANNEL_UDP_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "udp/peers.h"

enum udp_counter {
	UDP_TX_PACKETS,     /* flannel0 -> peers */
	UDP_TX_BYTES,
	UDP_RX_PACKETS,     /* peers -> flannel0 */
	UDP_RX_BYTES,
	UDP_NO_ROUTE,       /* no lease holds the destination: ICMP net unreachable */
	UDP_NOT_IPV4,       /* flannel0 gave something else (IPv6 of its own link) */
	UDP_TTL_EXPIRED,
	UDP_NOT_PEER,       /* a datagram from an address no lease has */
	UDP_MALFORMED,      /* a datagram that is not one whole IPv4 packet */
	UDP_OVERSIZED,      /* larger than flannel0's MTU */
	UDP_SEND_ERRORS,
	UDP_TUN_FULL,       /* flannel0 would not take the packet in time */
	UDP_NCOUNTERS,
};

struct udp_proxy_conf {
	int tun_fd;         /* IFF_TUN|IFF_NO_PI, non-blocking */
	int udp_fd;         /* bound to the underlay address and Port */
	uint16_t port;      /* network order: every peer listens on the same */
	unsigned mtu;       /* flannel0's */
};

struct udp_proxy;

/* Start both threads; NULL with errno. */
struct udp_proxy *udp_proxy_start(const struct udp_proxy_conf *c);
/* Hand over a new table (the old one is freed once no thread can see it). */
void udp_proxy_publish(struct udp_proxy *p, struct udp_table *t);
/* The source of our ICMP errors: flannel0's address (network order). */
void udp_proxy_set_own(struct udp_proxy *p, uint32_t addr);
/* Free the tables no thread can see any more. */
void udp_proxy_reclaim(struct udp_proxy *p);
void udp_proxy_counters(const struct udp_proxy *p, uint64_t out[UDP_NCOUNTERS]);
const char *udp_counter_name(enum udp_counter c);

#endif
