/* http.h - a small HTTP/1.1 client for etcd's JSON gateway on http://
 * endpoints: POST with a JSON body, one keep-alive connection per endpoint,
 * a deadline on every request, and a streaming mode for /v3/watch. */
#ifndef FLANNEL_HTTP_H
#define FLANNEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"

enum http_rc {
	HTTP_OK = 0,            /* more to come */
	HTTP_DONE = 1,          /* the response is complete */
	HTTP_ERR_IO = -1,       /* connect, send, receive, timeout, closed early */
	HTTP_ERR_NOMEM = -2,
	HTTP_ERR_PROTO = -3,    /* not an HTTP/1.x answer we can read */
	HTTP_ERR_USAGE = -4,    /* a bad URL */
	HTTP_ERR_CALLBACK = -5, /* the body callback stopped the transfer */
};

/* Body bytes as they arrive; a non-zero return stops the transfer. */
typedef int (*http_body_cb)(void *arg, const char *data, size_t len);

enum http_pstate {
	HP_STATUS, HP_HEADER, HP_BODY_LEN, HP_BODY_EOF,
	HP_CHUNK_SIZE, HP_CHUNK_DATA, HP_CHUNK_END, HP_TRAILER, HP_DONE,
};

/* An incremental response parser: bytes in, status and body out. */
struct http_parser {
	enum http_pstate state;
	int status;             /* 200, 404... */
	bool http10, chunked, close, has_length;
	uint64_t left;          /* body or chunk bytes still to come */
	size_t head_bytes;      /* status line and headers so far (bounded) */
	time_t date;            /* the Date header (1 s resolution), 0: none */
	size_t line_len;
	char line[2048];
	http_body_cb cb;
	void *arg;
};

void http_parser_init(struct http_parser *p, http_body_cb cb, void *arg);
/*
 * Feed n bytes; *used gets how many were taken.  HTTP_OK: more wanted;
 * HTTP_DONE: the response is complete (bytes after it are left unused);
 * HTTP_ERR_PROTO, or HTTP_ERR_CALLBACK when the callback said stop.
 */
int http_parser_feed(struct http_parser *p, const char *data, size_t n, size_t *used);
/* The peer closed: HTTP_DONE when that ends the body, HTTP_ERR_IO if not. */
int http_parser_eof(struct http_parser *p);
/* An HTTP date in its one current form, "Sun, 06 Nov 1994 08:49:37 GMT"
 * (RFC 9110's IMF-fixdate): 0 with *t, or -1. */
int http_date_parse(const char *s, time_t *t);
/* Whether the connection may carry another request after this response. */
bool http_parser_keepalive(const struct http_parser *p);

/* One endpoint: its address and, between requests, a kept-alive socket. */
struct http_conn;

/* url: http://host[:port][/path]; nothing is connected yet. */
int http_conn_new(const char *url, long timeout_ms, struct http_conn **out, char *err,
		  size_t errlen);
void http_conn_free(struct http_conn *c);
/* The Date header of the last answer read on c; 0 when it had none. */
time_t http_conn_date(const struct http_conn *c);
/*
 * METHOD (POST, GET, PUT, DELETE) the URL's path followed by path, with body
 * (JSON; NULL: none) and an Authorization header when auth is given:
 * HTTP_OK with *status and the body in resp, or an error with its cause in
 * err ("Connection refused", "timed out after 5000 ms").  A kept-alive
 * connection found stale is replaced once.
 */
int http_request(struct http_conn *c, const char *method, const char *path, const char *body,
		 const char *auth, int *status, struct buf *resp, char *err, size_t errlen);

/*
 * The same in two steps, so that etcd works on a request while the caller
 * does something else: send now, read the answer later.  Any other request
 * on c in between drops the unread answer with its connection.
 */
int http_post_send(struct http_conn *c, const char *path, const char *body, const char *auth,
		   char *err, size_t errlen);
int http_post_recv(struct http_conn *c, int *status, struct buf *resp, char *err,
		   size_t errlen);

/* Streaming: connect and send the request; the answer's body goes to cb. */
int http_stream_open(struct http_conn *c, const char *method, const char *path,
		     const char *body, const char *auth, http_body_cb cb, void *arg, char *err,
		     size_t errlen);
/* The socket to poll for POLLIN while a stream is open; -1 when none. */
int http_conn_fd(const struct http_conn *c);
/*
 * Take what has arrived without blocking: HTTP_OK while the stream goes on,
 * HTTP_DONE when the answer ended (*status), or an error (cause in err).
 */
int http_stream_read(struct http_conn *c, int *status, char *err, size_t errlen);

#endif
