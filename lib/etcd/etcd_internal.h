/* etcd_internal.h - shared between etcd.c (unary calls), etcd_watch.c and
 * etcd_curl.c (https:// through a dlopen'd libcurl). */
#ifndef FLANNEL_ETCD_INTERNAL_H
#define FLANNEL_ETCD_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "etcd/etcd.h"
#include "etcd/http.h"

struct etcd {
	char **eps;
	struct http_conn **conns; /* per endpoint; NULL for https:// */
	size_t n_eps, cur;
	char *cafile, *certfile, *keyfile, *username, *password;
	long timeout_ms;
	void *curl;               /* a CURL handle, made on the first https call */
	struct buf resp;
	struct etcd_prefetch *pf; /* set while etcd_range_all walks */
	char token[512];
	char err[768];
};

void etcd_set_error(struct etcd *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int etcd_ensure_auth(struct etcd *e, size_t ep);
int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp);
/* The JSON answer in e->resp from endpoint i, or etcd's error. */
int etcd_answer(struct etcd *e, size_t i, long http, json_t **resp);
json_t *etcd_range_req(const char *key, size_t keylen, const char *end, int64_t rev, long limit);
int etcd_range_page(struct etcd *e, const char *key, size_t keylen, const char *end,
		    int64_t rev, long limit, json_t **resp);
/* etcd_range.c: send the request for the page after the one in e->resp. */
void etcd_prefetch_next(struct etcd *e, size_t i);
int64_t etcd_json_int(json_t *o, const char *name);
int etcd_kv_decode(json_t *o, struct etcd_kv *kv);

/* libcurl, loaded on first use; a clear error when it is not there. */
int etcd_curl_load(char *err, size_t errlen);
/* POST to an https:// URL: the answer in e->resp, or the cause in cause. */
int etcd_curl_post(struct etcd *e, const char *url, const char *body, long *http,
		   char *cause, size_t causelen);
void etcd_curl_free(struct etcd *e);

struct etcd_curl_stream;
int etcd_curl_stream_open(struct etcd *e, const char *url, const char *body, http_body_cb cb,
			  void *arg, struct etcd_curl_stream **out);
/* Move the transfer on without waiting: HTTP_OK, HTTP_DONE (*status), or an error. */
int etcd_curl_stream_step(struct etcd_curl_stream *s, int *status, char *cause,
			  size_t causelen);
/* Wait for data for at most timeout_ms; true when wake_fd became readable. */
bool etcd_curl_stream_wait(struct etcd_curl_stream *s, int wake_fd, int timeout_ms);
void etcd_curl_stream_close(struct etcd_curl_stream *s);

#endif
