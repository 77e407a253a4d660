/* etcd_internal.h - shared between etcd.c (unary calls) and etcd_watch.c. */
#ifndef FLANNEL_ETCD_INTERNAL_H
#define FLANNEL_ETCD_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

#include "etcd.h"

struct etcd_buf {
	char *data;
	size_t len, cap;
};

struct etcd {
	char **eps;
	size_t n_eps, cur;
	char *cafile, *certfile, *keyfile, *username, *password;
	long timeout_ms;
	CURL *curl;
	struct etcd_buf resp;
	char token[512];
	char err[768];
};

void etcd_set_error(struct etcd *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t etcd_buf_write(char *ptr, size_t size, size_t nmemb, void *arg);
int etcd_setup_handle(struct etcd *e, CURL *h, struct curl_slist **hdrs, bool stream);
int etcd_ensure_auth(struct etcd *e, const char *ep);
int etcd_call(struct etcd *e, const char *path, json_t *req, json_t **resp);
int64_t etcd_json_int(json_t *o, const char *name);
int etcd_kv_decode(json_t *o, struct etcd_kv *kv);

#endif
