/* tun.h - the udp backend's TUN device, as upstream opens it. */
#ifndef FLANNEL_UDP_TUN_H
#define FLANNEL_UDP_TUN_H

#include <net/if.h>

/* Open /dev/net/tun as IFF_TUN|IFF_NO_PI with the name template (the kernel
 * picks the first free "flannel%d"); name receives the name, the descriptor
 * is non-blocking.  Not persistent: the device goes when the descriptor
 * closes.  -errno. */
int tun_open(const char *template, char name[IFNAMSIZ]);

#endif
