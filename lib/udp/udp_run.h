/* udp_run.h - flannel-udp's control side: flannel0 as upstream sets it up,
 * the lease events into forwarding tables for the packet threads. */
#ifndef FLANNEL_UDP_RUN_H
#define FLANNEL_UDP_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/subnet.h"

#define UDP_DEFAULT_PORT 8285

struct udp_opts {
	uint16_t port;             /* host order */
	const char *iface;         /* name or address; NULL: the default route's */
	const char *subnet_file;
	bool subnet_file_given;
	struct prefix network;     /* family 0: from subnet.env */
	const char *stats_file;    /* NULL: none */
	const char *state_dir;     /* the state file's (status/state.h); NULL: the default */
	int sigfd;                 /* sig.h's pipe */
	void (*synced)(void *arg); /* once, when the first sync is forwarding */
	void *synced_arg;
};

/* Run until EOF on stdin or SIGTERM: 0, or an error kind after logging. */
int udp_run(const struct udp_opts *o);

#endif
