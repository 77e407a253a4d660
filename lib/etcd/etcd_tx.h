/* etcd_tx.h - the one transport interface under the etcd client and the
 * flannel-server client (etcd_remote.c): send a request to an endpoint, optionally in two steps (pipelining), or open a
 * long answer (a watch stream).  http:// is the own HTTP/1.1 client
 * (etcd_tx_http.c over http.c), https:// a dlopen'd libcurl (etcd_curl.c). */
#ifndef FLANNEL_ETCD_TX_H
#define FLANNEL_ETCD_TX_H

#include <stdbool.h>
#include <stddef.h>

#include "etcd/http.h"

/* One endpoint, and one long answer on it; both start with their ops. */
struct etcd_tx {
	const struct etcd_tx_ops *ops;
};

struct etcd_stream {
	const struct etcd_tx_ops *ops;
};

/* Results are ETCD_* codes unless said otherwise; a cause says why. */
struct etcd_tx_ops {
	/* METHOD body (NULL: none) to the endpoint's URL followed by path: ETCD_OK
	 * with *http and the answer in resp, or ETCD_ERR_{UNAVAILABLE,NOMEM,USAGE,AUTH}. */
	int (*request)(struct etcd_tx *t, const char *method, const char *path, const char *body,
		       const char *auth, long *http, struct buf *resp, char *cause,
		       size_t causelen);
	/* The same in two steps; NULL when the transport cannot pipeline.  Any
	 * other request on t in between drops the unread answer. */
	int (*send)(struct etcd_tx *t, const char *path, const char *body, const char *auth,
		    char *cause, size_t causelen);
	int (*recv)(struct etcd_tx *t, long *http, struct buf *resp, char *cause,
		    size_t causelen);
	/* A long answer whose body goes to cb, on its own connection. */
	int (*stream_open)(struct etcd_tx *t, const char *method, const char *path,
			   const char *body, const char *auth, http_body_cb cb, void *arg,
			   struct etcd_stream **out, char *cause, size_t causelen);
	/* Take what has arrived without blocking: HTTP_OK while the stream goes
	 * on, HTTP_DONE when it ended (*http), or an HTTP_ERR_* code. */
	int (*stream_read)(struct etcd_stream *s, int *http, char *cause, size_t causelen);
	/* Wait for data for at most timeout_ms; true when wake_fd (-1: none)
	 * became readable. */
	bool (*stream_wait)(struct etcd_stream *s, int wake_fd, int timeout_ms);
	void (*stream_close)(struct etcd_stream *s);
	void (*free)(struct etcd_tx *t);
	/* The server's Date header in the last answer, 0: none; NULL when the
	 * transport does not keep it. */
	time_t (*date)(struct etcd_tx *t);
};

/* What an https:// endpoint needs besides its URL (all may be NULL). */
struct etcd_tls {
	const char *cafile, *certfile, *keyfile;
};

/* url: http://host[:port][/path]; nothing is connected yet.  ETCD_OK, or
 * ETCD_ERR_USAGE / ETCD_ERR_NOMEM with err set. */
int etcd_tx_http_new(const char *url, long timeout_ms, struct etcd_tx **out, char *err,
		     size_t errlen);
/* url: https://...; loads libcurl on first use (ETCD_ERR_UNAVAILABLE with a
 * clear err when it is not there).  tls must outlive the transport. */
int etcd_tx_curl_new(const char *url, long timeout_ms, const struct etcd_tls *tls,
		     struct etcd_tx **out, char *err, size_t errlen);

#endif
