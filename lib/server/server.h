/* server.h - flannel-server: upstream's /v1 client/server API (v0.5-v0.7)
 * over the etcd store, so that hosts that cannot reach etcd get their lease
 * and their peers through it.  It holds no lease and joins no network. */
#ifndef FLANNEL_SERVER_H
#define FLANNEL_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"

#define SERVER_MAX_WATCHES 4096     /* long polls parked at once (--max-watches) */
#define SERVER_MAX_CONNS 8192       /* connections at once */
#define SERVER_READ_TIMEOUT_MS 10000 /* a whole request, once it began (--read-timeout) */
#define SERVER_IDLE_TIMEOUT_MS 120000

struct server_opts {
	struct etcd_opts etcd;
	const char *prefix;
	const char *listen;          /* [tcp://]HOST:PORT, :PORT, fd://, fd://N */
	const char *certfile, *keyfile, *cafile; /* TLS; a CA makes client certs mandatory */
	int64_t read_timeout_ms, idle_timeout_ms;
	unsigned max_watches, max_conns;
	int64_t ttl_s;               /* of a new lease */
	bool trust_public_ip;        /* do not compare PublicIP with the peer's address */
	const char *notify_socket;   /* $NOTIFY_SOCKET, or NULL */
};

/* Runs until SIGTERM/SIGINT (after sig_init); returns 0 or an error kind
 * (base/err.h). */
int server_run(const struct server_opts *o);

#endif
