/* tun.h - the udp backend's TUN device, as upstream opens it. */
#ifndef FLANNEL_UDP_TUN_H
#define FLANNEL_UDP_TUN_H

#include <net/if.h>

/* Open /dev/net/tun as IFF_TUN|IFF_NO_PI|IFF_VNET_HDR with the name
 * template (the kernel picks the first free "flannel%d"); name receives
 * the name, the descriptor is non-blocking.  Not persistent: the device goes when the descriptor
 * closes.  Every read and write starts with a struct virtio_net_hdr
 * (gso.h); the packets on the device are upstream's.  -errno. */
int tun_open(const char *template, char name[IFNAMSIZ]);
/* Let the kernel hand over packets with a partial checksum and TCP
 * super-packets (TUN_F_CSUM|TUN_F_TSO4); without it, it finishes both
 * itself.  -errno. */
int tun_offload(int fd);

#endif
