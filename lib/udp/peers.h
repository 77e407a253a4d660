/* peers.h - the udp backend's forwarding table: remote subnet -> the public
 * IP of the host holding it, built whole by the control side and read
 * without locks by the packet threads (one immutable table per change). */
#ifndef FLANNEL_UDP_PEERS_H
#define FLANNEL_UDP_PEERS_H

#include <stddef.h>
#include <stdint.h>

/* One remote lease; addresses in network byte order. */
struct udp_peer {
	uint32_t net;     /* subnet address (masked) */
	uint8_t len;      /* prefix length, 1..32 */
	uint32_t public_ip;
};

struct udp_table;

/* A table of n peers (copied); NULL on ENOMEM.  Duplicated subnets: the
 * last one wins. */
struct udp_table *udp_table_build(const struct udp_peer *p, size_t n);
void udp_table_free(struct udp_table *t);
size_t udp_table_size(const struct udp_table *t);
/* The longest prefix holding dst: the next hop's public IP, or 0 when none. */
uint32_t udp_table_route(const struct udp_table *t, uint32_t dst);
/* The source of a datagram is one of the peers' public IPs. */
int udp_table_has_source(const struct udp_table *t, uint32_t ip);

#endif
