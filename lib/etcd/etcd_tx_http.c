/* etcd_tx_http.c - the http:// transport: lib/etcd/http.c behind the
 * etcd_tx interface, one kept-alive connection per endpoint and one more
 * per watch stream. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/mem.h"
#include "etcd/etcd.h"
#include "etcd/etcd_tx.h"

struct tx_http {
	struct etcd_tx base;
	struct http_conn *c;
	char *url;
	long timeout_ms;
};

struct stream_http {
	struct etcd_stream base;
	struct http_conn *c;
};

static int etcd_rc(int rc)
{
	return rc == HTTP_OK ? ETCD_OK : rc == HTTP_ERR_NOMEM ? ETCD_ERR_NOMEM :
	       rc == HTTP_ERR_USAGE ? ETCD_ERR_USAGE : ETCD_ERR_UNAVAILABLE;
}

static int tx_request(struct etcd_tx *t, const char *method, const char *path,
		      const char *body, const char *auth, long *http, struct buf *resp,
		      char *cause, size_t causelen)
{
	struct tx_http *h = (struct tx_http *)t;
	int status = 0, rc = http_request(h->c, method, path, body, auth, &status, resp, cause,
					  causelen);

	*http = status;
	return etcd_rc(rc);
}

static int tx_send(struct etcd_tx *t, const char *path, const char *body, const char *auth,
		   char *cause, size_t causelen)
{
	struct tx_http *h = (struct tx_http *)t;

	return etcd_rc(http_post_send(h->c, path, body, auth, cause, causelen));
}

static int tx_recv(struct etcd_tx *t, long *http, struct buf *resp, char *cause,
		   size_t causelen)
{
	struct tx_http *h = (struct tx_http *)t;
	int status = 0, rc = http_post_recv(h->c, &status, resp, cause, causelen);

	*http = status;
	return etcd_rc(rc);
}

static const struct etcd_tx_ops http_ops;

static int tx_stream_open(struct etcd_tx *t, const char *method, const char *path,
			  const char *body, const char *auth, http_body_cb cb, void *arg,
			  struct etcd_stream **out, char *cause, size_t causelen)
{
	struct tx_http *h = (struct tx_http *)t;
	struct stream_http *s = fl_calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return ETCD_ERR_NOMEM;
	s->base.ops = &http_ops;
	/* Its own connection: the stream holds it for as long as it lasts. */
	rc = http_conn_new(h->url, h->timeout_ms, &s->c, cause, causelen);
	if (rc == HTTP_OK)
		rc = http_stream_open(s->c, method, path, body, auth, cb, arg, cause, causelen);
	if (rc == HTTP_OK) {
		*out = &s->base;
		return ETCD_OK;
	}
	http_conn_free(s->c);
	free(s);
	return rc == HTTP_ERR_NOMEM ? ETCD_ERR_NOMEM : ETCD_ERR_UNAVAILABLE;
}

static int tx_stream_read(struct etcd_stream *st, int *http, char *cause, size_t causelen)
{
	return http_stream_read(((struct stream_http *)st)->c, http, cause, causelen);
}

static bool tx_stream_wait(struct etcd_stream *st, int wake_fd, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = http_conn_fd(((struct stream_http *)st)->c), .events = POLLIN },
		{ .fd = wake_fd, .events = POLLIN },
	};

	if (poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms) <= 0)
		return false;
	return wake_fd >= 0 && (p[1].revents & POLLIN);
}

static void tx_stream_close(struct etcd_stream *st)
{
	struct stream_http *s = (struct stream_http *)st;

	http_conn_free(s->c);
	free(s);
}

static void tx_free(struct etcd_tx *t)
{
	struct tx_http *h = (struct tx_http *)t;

	http_conn_free(h->c);
	free(h->url);
	free(h);
}

static time_t tx_date(struct etcd_tx *t)
{
	return http_conn_date(((struct tx_http *)t)->c);
}

static const struct etcd_tx_ops http_ops = {
	.request = tx_request,
	.send = tx_send,
	.recv = tx_recv,
	.stream_open = tx_stream_open,
	.stream_read = tx_stream_read,
	.stream_wait = tx_stream_wait,
	.stream_close = tx_stream_close,
	.free = tx_free,
	.date = tx_date,
};

int etcd_tx_http_new(const char *url, long timeout_ms, struct etcd_tx **out, char *err,
		     size_t errlen)
{
	struct tx_http *h = fl_calloc(1, sizeof(*h));
	char why[256];
	int rc;

	*out = NULL;
	if (!h || !(h->url = fl_strdup(url))) {
		free(h);
		return ETCD_ERR_NOMEM;
	}
	h->base.ops = &http_ops;
	h->timeout_ms = timeout_ms;
	rc = http_conn_new(url, timeout_ms, &h->c, why, sizeof(why));
	if (rc != HTTP_OK) {
		tx_free(&h->base);
		if (rc == HTTP_ERR_NOMEM)
			return ETCD_ERR_NOMEM;
		snprintf(err, errlen, "etcd endpoint \"%s\": %s", url, why);
		return ETCD_ERR_USAGE;
	}
	*out = &h->base;
	return ETCD_OK;
}
