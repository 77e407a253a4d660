/* srv_req.h - flannel-server's HTTP/1.1 request parser: bytes from an
 * untrusted client in, one bounded request out (tests/fuzz/fuzz_srv_req.c). */
#ifndef FLANNEL_SRV_REQ_H
#define FLANNEL_SRV_REQ_H

#include <stdbool.h>
#include <stddef.h>

#define SRV_HEAD_MAX 8192   /* request line and headers */
#define SRV_URI_MAX 2048
#define SRV_BODY_MAX 65536  /* a lease is a few hundred bytes */

enum srv_req_state { SR_LINE, SR_HEADER, SR_BODY, SR_DONE };

struct srv_req {
	enum srv_req_state state;
	char method[8];
	char uri[SRV_URI_MAX];     /* as sent, NUL-terminated */
	char path[SRV_URI_MAX];    /* the URI before '?', percent-decoded */
	char query[SRV_URI_MAX];   /* after '?', raw ("" when none) */
	bool http10, close, has_length;
	size_t length;             /* Content-Length */
	size_t head_bytes;
	size_t line_len;
	char line[SRV_HEAD_MAX];
	char *body;                /* length bytes + NUL, owned; NULL when none */
	size_t body_len;
};

void srv_req_init(struct srv_req *r);
void srv_req_clear(struct srv_req *r);

/*
 * Feed n bytes; *used gets how many were taken.  0: more wanted (all taken);
 * 1: a request is complete (bytes after it are left, for the next one); or
 * an HTTP error status to answer with before closing: 400 malformed, 405 a
 * method we do not serve, 411 a body without Content-Length, 413 a body
 * over SRV_BODY_MAX, 414 a URI over SRV_URI_MAX, 431 headers over
 * SRV_HEAD_MAX, 501 Transfer-Encoding, 505 not HTTP/1.x, 507 out of memory.
 */
int srv_req_feed(struct srv_req *r, const char *data, size_t n, size_t *used);

/* The value of name=... in a query string into out: 1 found, 0 absent, -1 too long. */
int srv_query_get(const char *query, const char *name, char *out, size_t outlen);

#endif
