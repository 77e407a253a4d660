/* etcd_remote.h - the etcd client's calls that flannel's tools make,
 * answered by a flannel-server (upstream's /v1 API) instead of etcd: the
 * config key, the lease keys of one network (range, get, watch), acquire
 * and renew.  etcd.c, etcd_range.c, etcd_watch.c and acquire.c hand their
 * call here when the client was opened with --remote, so lease_keep.c,
 * watch.c and config_fetch.c run unchanged and the event stream is the same. */
#ifndef FLANNEL_ETCD_REMOTE_H
#define FLANNEL_ETCD_REMOTE_H

#include "etcd/acquire.h"
#include "etcd/etcd_call.h"

struct etcd_remote;
struct remote_watch;

/* --remote's servers as endpoint URLs (malloc'd): https:// when a
 * --remote-*file is given, as upstream; they become e->eps. */
int remote_urls(const struct etcd_opts *o, char **out, char *err, size_t errlen);
/* The rest of client mode, once e's endpoints and transports are open. */
int remote_open(struct etcd *e, const struct etcd_opts *o, char *err, size_t errlen);
void remote_close(struct etcd *e);

int remote_get(struct etcd *e, const char *key, struct etcd_kv *kv, int64_t *rev);
int remote_range_all(struct etcd *e, const char *key, etcd_kv_cb cb, void *arg, int64_t *rev);
/* The calls a flannel-server does not serve: ETCD_ERR_USAGE, saying so. */
int remote_refuse(struct etcd *e, const char *what);
int remote_acquire(struct acquire *a, struct lease *got, char *key, size_t keylen,
		   int64_t *rev);
int remote_renew(struct acquire *a, struct lease *got);

/* A long-poll watch of the network's leases (key the lease directory) or of
 * one lease, as an etcd watch from start_rev: PUT and DELETE events, a
 * PROGRESS at each cursor, COMPACTED when the server answers with a snapshot. */
int remote_watch_open(struct etcd *e, const char *key, int64_t start_rev, etcd_watch_cb cb,
		      void *arg, struct remote_watch **out);
int remote_watch_poll(struct remote_watch *w, int wake_fd, int timeout_ms);
void remote_watch_close(struct remote_watch *w);

/* Shared by the two files: a request with failover, and a Lease's JSON as an etcd kv. */
int remote_call(struct etcd *e, const char *method, const char *path, const char *body,
		long *http, struct buf **resp);
int remote_path(struct etcd *e, const char *key, char *path, size_t len, const char **leaf);
int remote_kv_of(struct etcd *e, const char *key, json_t *lease, int64_t cursor,
		 struct etcd_kv *kv);
/* Endpoint i's transport and URL, for the watch's own connection. */
struct etcd_tx *remote_tx(struct etcd *e, size_t *i, const char **url);
void remote_failed(struct etcd *e, size_t i);

#endif
