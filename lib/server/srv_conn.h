/* srv_conn.h - what flannel-server's loop (srv_loop.c) and its handlers
 * (srv_api.c) share: a connection, the server, replies and parked polls. */
#ifndef FLANNEL_SRV_CONN_H
#define FLANNEL_SRV_CONN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "model/subnet.h"
#include "server/server.h"
#include "server/srv_req.h"
#include "server/srv_ring.h"

/* C_DRAIN: the reply is out and our side shut: what the client still sends is
 * read and dropped until it closes, so that the kernel does not reset the
 * connection (and the reply with it) over unread bytes. */
enum conn_state { C_IDLE, C_READING, C_WRITING, C_PARKED, C_DRAIN, C_CLOSED };
enum watch_kind { W_LEASES, W_LEASE, W_NETWORKS };

struct conn {
	int fd;
	SSL *ssl;
	bool handshaken;
	struct ipaddr peer;
	char peer_s[ADDR_STRLEN + 8];
	struct srv_req req;
	char in[16384];
	size_t in_len;
	struct buf out;
	size_t out_off;
	int64_t deadline;            /* mono ms: the request, the reply or the idle wait */
	enum conn_state state;
	bool close_after, ssl_wants_write;
	/* a parked long poll */
	enum watch_kind wkind;
	char net[64];
	char prefix[512];            /* the network's etcd prefix */
	char leaf[KEY_STRLEN];       /* W_LEASE: its key */
	int64_t cursor;
};

/* The last snapshot reply of a network: at rev, it stays right for as long
 * as the shared watch saw no change after rev (a restart's thundering herd
 * of clients costs one etcd range, not one each). */
#define SNAP_CACHE 8
struct snap_cache {
	char prefix[512];
	int64_t rev;
	char *body;
	size_t len;
};

struct srv {
	const struct server_opts *o;
	struct snap_cache snaps[SNAP_CACHE];
	unsigned snap_next;
	struct etcd *e;              /* requests, from the loop's thread only */
	struct ring ring;            /* the shared watch */
	char prefix[512];            /* the etcd prefix without a trailing '/' */
	struct conn **conns;
	size_t n_conns, cap_conns;
	unsigned n_parked;
	unsigned long requests;
};

/* Queue a whole reply; the request is logged as "METHOD URI - status". */
void srv_reply(struct srv *s, struct conn *c, int status, const char *ctype, const char *body,
	       size_t len);
/* A plain-text error (upstream's shape), a newline added. */
void srv_reply_text(struct srv *s, struct conn *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The handlers (srv_api.c): answer c's complete request, or park it. */
void api_handle(struct srv *s, struct conn *c);
/* A parked poll after new changes: answer it if any is for it. */
void api_wake(struct srv *s, struct conn *c);
/* What the handlers keep between requests (the snapshot cache). */
void api_free(struct srv *s);

/* The listening sockets (srv_listen.c): parse and bind or adopt. */
int srv_listen_open(const char *spec, int *fd, char *err, size_t errlen);
SSL_CTX *srv_tls_ctx(const char *certfile, const char *keyfile, const char *cafile, char *err,
		     size_t errlen);

#endif
