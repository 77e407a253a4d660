/* etcd.h - an etcd v3 client over the JSON gateway (lib/etcd/http.c; libcurl for https). */
#ifndef FLANNEL_ETCD_H
#define FLANNEL_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ETCD_DEFAULT_ENDPOINTS "http://127.0.0.1:4001,http://127.0.0.1:2379"
#define ETCD_DEFAULT_PREFIX "/coreos.com/network"
#define ETCD_DEFAULT_TIMEOUT_MS 5000
#define ETCD_DEFAULT_WATCH_PROBE_MS 30000

struct etcd_opts {
	const char *endpoints; /* comma-separated URLs */
	const char *cafile, *certfile, *keyfile;
	const char *username, *password;
	long timeout_ms;       /* every request; 0 = the default */
	/* A watch stream silent this long has its member asked whether it is
	 * alive (etcd_watch_poll); 0: the default (30 s), -1: never. */
	long watch_probe_ms;
	/* Client mode: flannel-servers (HOST:PORT, comma-separated, tried in
	 * turn) answer instead of etcd (lib/etcd/etcd_remote.c). */
	const char *remote;
	const char *remote_cafile, *remote_certfile, *remote_keyfile;
	const char *remote_prefix;  /* the tool's --etcd-prefix: network "_" */
	const char *remote_network; /* the network for every key, or NULL */
};

enum etcd_status {
	ETCD_OK = 0,
	ETCD_NOTFOUND = 1,
	ETCD_EXISTS = 2,          /* a create found the key there */
	ETCD_ERR_UNAVAILABLE = -1, /* no endpoint answered */
	ETCD_ERR_SERVER = -2,      /* etcd answered with an error */
	ETCD_ERR_AUTH = -3,        /* authentication or permission */
	ETCD_ERR_NOMEM = -4,
	ETCD_ERR_PROTO = -5,       /* an answer we could not read */
	ETCD_ERR_COMPACTED = -6,   /* the revision asked for is gone */
	ETCD_ERR_USAGE = -7,       /* bad options */
};

struct etcd_kv {
	char *key, *value;        /* NUL-terminated copies */
	size_t key_len, value_len;
	int64_t lease, mod_revision, create_revision, version;
};

struct etcd;

int etcd_open(const struct etcd_opts *o, struct etcd **out, char *err, size_t errlen);
void etcd_close(struct etcd *e);
/* The text of the last error, e.g. "etcd unreachable at http://...: Connection refused". */
const char *etcd_error(const struct etcd *e);
/* Opened with --remote: a flannel-server answers (lib/etcd/etcd_remote.c). */
bool etcd_is_remote(const struct etcd *e);
/* The endpoint requests go to now (the last that answered). */
const char *etcd_endpoint(const struct etcd *e);
/* When etcd last answered anything (a watch stream's lines too); 0: never. */
time_t etcd_last_contact(const struct etcd *e);

/* The Date header of the last answer from the endpoint in use (1 s
 * resolution): 0 when it had none or the transport (libcurl) keeps none. */
time_t etcd_last_date(const struct etcd *e);

void etcd_kv_clear(struct etcd_kv *kv);

/* ETCD_OK with *kv filled, or ETCD_NOTFOUND. rev: header revision (may be NULL). */
int etcd_get(struct etcd *e, const char *key, struct etcd_kv *kv, int64_t *rev);

/* Called for every key of a range; a non-zero return stops the walk. */
typedef int (*etcd_kv_cb)(void *arg, const struct etcd_kv *kv);
/*
 * Walk [key, range_end) in pages of `page` keys, all read at one revision (the
 * first page's, or *rev when it is non-zero), so memory stays flat.  *rev
 * gets that revision.
 */
int etcd_range_all(struct etcd *e, const char *key, const char *range_end, long page,
		   etcd_kv_cb cb, void *arg, int64_t *rev);
/* The range end that covers every key starting with prefix (malloc'd). */
char *etcd_prefix_end(const char *prefix);

int etcd_put(struct etcd *e, const char *key, const char *val, int64_t lease, int64_t *rev);
/* Put only if the key does not exist (a transaction on version == 0). */
int etcd_create(struct etcd *e, const char *key, const char *val, int64_t lease, int64_t *rev);
int etcd_delete(struct etcd *e, const char *key, int64_t *deleted);

int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id);
/* One keep-alive; *ttl is 0 when the lease has expired (ETCD_NOTFOUND). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl);
int etcd_lease_revoke(struct etcd *e, int64_t id);
/* Remaining TTL; ETCD_NOTFOUND when the lease is gone. */
int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl);

enum etcd_watch_type {
	EW_CREATED, EW_PUT, EW_DELETE, EW_PROGRESS, EW_COMPACTED, EW_CANCELED,
};

struct etcd_watch_event {
	enum etcd_watch_type type;
	int64_t revision;          /* header revision of the response */
	int64_t compact_revision;  /* EW_COMPACTED */
	struct etcd_kv kv, prev_kv;
	bool has_prev;
	const char *reason;        /* EW_CANCELED */
};

struct etcd_watch;
typedef int (*etcd_watch_cb)(void *arg, const struct etcd_watch_event *ev);

/* Start watching [key, range_end) from start_rev (0 = now). */
int etcd_watch_open(struct etcd *e, const char *key, const char *range_end, int64_t start_rev,
		    bool prev_kv, etcd_watch_cb cb, void *arg, struct etcd_watch **out);
/*
 * Move the stream on for at most timeout_ms.  Returns ETCD_OK when time ran
 * out with the stream still open, ETCD_ERR_UNAVAILABLE when the stream ended
 * (reconnect), or the callback's non-zero return.  A stream can stay silent
 * for ever when its member is frozen (a stopped process, a wedged host
 * whose kernel still keeps TCP up): after watch_probe_ms without a byte the
 * member is asked a small serializable question, and no answer within the
 * request timeout ends the stream as a broken one would (the next open goes
 * to the next endpoint).
 */
int etcd_watch_poll(struct etcd_watch *w, int timeout_ms);
/* Extra fd to wake the poll (e.g. a self-pipe for signals); -1 for none. */
void etcd_watch_set_wakeup_fd(struct etcd_watch *w, int fd);
void etcd_watch_close(struct etcd_watch *w);

#endif
