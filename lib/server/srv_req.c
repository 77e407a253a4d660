/* srv_req.c - parse one HTTP/1.1 request, bounded everywhere: the request
 * line, each header and all of them, the URI, the body. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "server/srv_req.h"

void srv_req_init(struct srv_req *r)
{
	memset(r, 0, sizeof(*r));
	r->state = SR_LINE;
}

void srv_req_clear(struct srv_req *r)
{
	free(r->body);
	srv_req_init(r);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The path, percent-decoded; a decoded NUL or '/' inside a segment is refused. */
static int decode_path(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n)
				return -1;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = h * 16 + l;
			if (c == 0 || c == '/')
				return -1;
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static bool token_char(int c)
{
	return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static int request_line(struct srv_req *r)
{
	char *sp1 = memchr(r->line, ' ', r->line_len), *sp2, *q, *end = r->line + r->line_len;
	size_t mlen, ulen, plen;

	if (!sp1)
		return 400;
	mlen = (size_t)(sp1 - r->line);
	if (mlen == 0 || mlen >= sizeof(r->method))
		return mlen ? 405 : 400;
	for (size_t i = 0; i < mlen; i++)
		if (!token_char((unsigned char)r->line[i]))
			return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2)
		return 400;
	ulen = (size_t)(sp2 - sp1 - 1);
	if (ulen == 0)
		return 400;
	if (ulen >= SRV_URI_MAX)
		return 414;
	if ((size_t)(end - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 505;
	if (sp2[8] != '0' && sp2[8] != '1')
		return 505;
	r->http10 = sp2[8] == '0';
	r->close = r->http10;
	memcpy(r->method, r->line, mlen);
	r->method[mlen] = '\0';
	memcpy(r->uri, sp1 + 1, ulen);
	r->uri[ulen] = '\0';
	for (size_t i = 0; i < ulen; i++)
		if ((unsigned char)r->uri[i] <= 32 || (unsigned char)r->uri[i] >= 127)
			return 400;
	if (r->uri[0] != '/')
		return 400;
	q = strchr(r->uri, '?');
	plen = q ? (size_t)(q - r->uri) : ulen;
	if (decode_path(r->uri, plen, r->path, sizeof(r->path)) < 0)
		return 400;
	if (q)
		memcpy(r->query, q + 1, ulen - plen); /* with its NUL */
	return 0;
}

static bool value_is(const char *v, const char *word)
{
	/* A comma-separated list holding word, without regard to case. */
	size_t wl = strlen(word);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, word, wl) == 0 &&
		    (v[wl] == '\0' || v[wl] == ',' || v[wl] == ' ' || v[wl] == '\t'))
			return true;
		while (*v && *v != ',')
			v++;
	}
	return false;
}

static int header_line(struct srv_req *r)
{
	char *colon = memchr(r->line, ':', r->line_len), *v;
	size_t nlen;

	if (!colon || colon == r->line)
		return 400;
	nlen = (size_t)(colon - r->line);
	for (size_t i = 0; i < nlen; i++)
		if (!token_char((unsigned char)r->line[i]))
			return 400;
	r->line[r->line_len] = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (char *e = r->line + r->line_len; e > v && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = '\0';
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 32 && *c != '\t')
			return 400;
	if (nlen == 14 && strncasecmp(r->line, "Content-Length", 14) == 0) {
		char *endp;
		unsigned long long len;

		if (!isdigit((unsigned char)*v))
			return 400;
		errno = 0;
		len = strtoull(v, &endp, 10);
		if (*endp || errno)
			return errno == ERANGE ? 413 : 400;
		/* Two different lengths: a request smuggled past a proxy. */
		if (r->has_length && len != r->length)
			return 400;
		if (len > SRV_BODY_MAX)
			return 413;
		r->has_length = true;
		r->length = (size_t)len;
	} else if (nlen == 17 && strncasecmp(r->line, "Transfer-Encoding", 17) == 0) {
		return 501;
	} else if (nlen == 10 && strncasecmp(r->line, "Connection", 10) == 0) {
		if (value_is(v, "close"))
			r->close = true;
		else if (value_is(v, "keep-alive"))
			r->close = false;
	}
	return 0;
}

static int end_of_head(struct srv_req *r)
{
	bool wants_body = strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0;

	if (wants_body && !r->has_length)
		return 411;
	if (r->has_length && r->length > 0) {
		r->body = fl_malloc(r->length + 1);
		if (!r->body)
			return 507;
		r->state = SR_BODY;
		return 0;
	}
	r->state = SR_DONE;
	return 1;
}

/* One line of the head (without CRLF) is complete. */
static int line_done(struct srv_req *r)
{
	int rc;

	if (r->line_len && r->line[r->line_len - 1] == '\r')
		r->line_len--;
	if (r->state == SR_LINE) {
		/* Empty lines before the request line are allowed (RFC 9112 2.2). */
		if (r->line_len == 0)
			return 0;
		rc = request_line(r);
		if (rc == 0)
			r->state = SR_HEADER;
		return rc;
	}
	if (r->line_len == 0)
		return end_of_head(r);
	/* Obsolete line folding is refused (RFC 9112 5.2). */
	if (r->line[0] == ' ' || r->line[0] == '\t')
		return 400;
	return header_line(r);
}

static int feed_head(struct srv_req *r, const char *data, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n && r->state != SR_BODY && r->state != SR_DONE; i++) {
		int rc;

		if (++r->head_bytes > SRV_HEAD_MAX) {
			*used = i;
			return r->state == SR_LINE ? 414 : 431;
		}
		if (data[i] != '\n') {
			if (data[i] == '\0')
				return 400;
			if (r->line_len >= sizeof(r->line) - 1) {
				*used = i;
				return r->state == SR_LINE ? 414 : 431;
			}
			r->line[r->line_len++] = data[i];
			continue;
		}
		rc = line_done(r);
		r->line_len = 0;
		if (rc) {
			*used = i + 1;
			return rc;
		}
	}
	*used = i;
	return 0;
}

int srv_req_feed(struct srv_req *r, const char *data, size_t n, size_t *used)
{
	size_t off = 0, take;
	int rc;

	*used = 0;
	if (r->state == SR_DONE)
		return 1;
	if (r->state == SR_LINE || r->state == SR_HEADER) {
		rc = feed_head(r, data, n, &off);
		*used = off;
		if (rc)
			return rc;
		if (r->state != SR_BODY)
			return 0;
	}
	take = r->length - r->body_len < n - off ? r->length - r->body_len : n - off;
	memcpy(r->body + r->body_len, data + off, take);
	r->body_len += take;
	*used = off + take;
	if (r->body_len < r->length)
		return 0;
	r->body[r->body_len] = '\0';
	r->state = SR_DONE;
	return 1;
}

int srv_query_get(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			if (len - nl - 1 >= outlen)
				return -1;
			memcpy(out, p + nl + 1, len - nl - 1);
			out[len - nl - 1] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}
