/* etcd_call.h - the request layer of the etcd client, below etcd.c (open,
 * keys, leases), etcd_range.c (ranges) and etcd_watch.c: the client's state,
 * endpoint failover, authentication, etcd's answers and their fields. */
#ifndef FLANNEL_ETCD_CALL_H
#define FLANNEL_ETCD_CALL_H

#include <jansson.h>
#include <stdbool.h>

#include "etcd/etcd.h"
#include "etcd/etcd_tx.h"

struct etcd {
	char **eps;
	struct etcd_tx **tx;      /* per endpoint */
	size_t n_eps, cur;
	char *cafile, *certfile, *keyfile, *username, *password;
	struct etcd_tls tls;      /* points to the three files above */
	long timeout_ms;
	long watch_probe_ms;      /* 0: never (etcd_opts says -1) */
	struct buf resp;
	char token[512];
	char err[768];
	struct etcd_remote *rm;   /* client mode: a flannel-server answers */
	time_t contact;           /* etcd last answered (etcd_last_contact) */
};

void etcd_set_error(struct etcd *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The token for the Authorization header, or NULL. */
const char *etcd_auth(const struct etcd *e);
int etcd_ensure_auth(struct etcd *e, size_t ep);

/* Called with a raw HTTP 200 answer from endpoint i in e->resp, before it
 * is parsed (etcd_range.c asks for the next page there). */
typedef void (*etcd_raw_hook)(struct etcd *e, size_t i, void *arg);
/*
 * POST req to path, trying every endpoint from the last one that worked:
 * ETCD_OK with the JSON answer in *resp, or an ETCD_ERR_* with e->err set.
 */
int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp);
int etcd_call_hooked(struct etcd *e, const char *path, json_t *req, json_t **resp,
		     etcd_raw_hook hook, void *arg);
/* The JSON answer in e->resp from endpoint i, or etcd's error. */
int etcd_answer(struct etcd *e, size_t i, long http, json_t **resp);

int64_t etcd_json_int(json_t *o, const char *name);
/* A base64 JSON string of len bytes at s; NULL when out of memory. */
json_t *etcd_b64_string(const char *s, size_t len);
int etcd_kv_decode(json_t *o, struct etcd_kv *kv);
/* The bytes of a watch stream's body through the stream's line parser, with
 * no connection (unit tests and tests/fuzz): the callback's or the parse's rc. */
int etcd_watch_feed(struct etcd *e, etcd_watch_cb cb, void *arg, const char *data, size_t n);

#endif
