/* http_parse.c - an incremental HTTP/1.1 response parser: status line,
 * headers, then a body by Content-Length, chunked, or up to the close. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "etcd/http.h"

/* Status line and headers together; a server sending more is broken. */
#define HEAD_MAX (64 * 1024)

void http_parser_init(struct http_parser *p, http_body_cb cb, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->state = HP_STATUS;
	p->cb = cb;
	p->arg = arg;
}

bool http_parser_keepalive(const struct http_parser *p)
{
	return p->state == HP_DONE && !p->close;
}

static int parse_u64(const char *s, int base, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!((*s >= '0' && *s <= '9') || (base == 16 && strchr("abcdefABCDEF", *s) && *s)))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s)
		return -1;
	*out = v;
	return (int)(end - s);
}

static int status_line(struct http_parser *p, const char *l)
{
	uint64_t code;

	/* "HTTP/1.1 200 OK"; the reason phrase may be empty. */
	if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
	    parse_u64(l + 9, 10, &code) != 3 || (l[12] != ' ' && l[12] != '\0') ||
	    code < 100)
		return HTTP_ERR_PROTO;
	p->status = (int)code;
	p->http10 = l[7] == '0';
	p->close = p->http10;
	p->state = HP_HEADER;
	return HTTP_OK;
}

/* Whether the comma-separated list v holds token t. */
static bool has_token(const char *v, const char *t)
{
	size_t n = strlen(t);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, t, n) == 0 && strchr(" \t,", v[n]))
			return true;
		v += strcspn(v, ",");
	}
	return false;
}

int http_date_parse(const char *s, time_t *t)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);

	if (!end || *end || strlen(s) != 29)
		return -1;
	*t = timegm(&tm);
	return *t == (time_t)-1 ? -1 : 0;
}

static int header_line(struct http_parser *p, char *l)
{
	char *colon = strchr(l, ':'), *v, *end;
	uint64_t len = 0;

	if (!colon || colon == l)
		return HTTP_ERR_PROTO;
	*colon = '\0';
	v = colon + 1;
	v += strspn(v, " \t");
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (strcasecmp(l, "Content-Length") == 0) {
		if (parse_u64(v, 10, &len) != (int)strlen(v) ||
		    (p->has_length && len != p->left))
			return HTTP_ERR_PROTO;
		p->has_length = true;
		p->left = len;
	} else if (strcasecmp(l, "Transfer-Encoding") == 0) {
		/* chunked must be the last coding; we know no other. */
		if (!has_token(v, "chunked"))
			return HTTP_ERR_PROTO;
		p->chunked = true;
	} else if (strcasecmp(l, "Date") == 0) {
		/* Kept for flannel-check's clock comparison; a bad one is no error. */
		if (http_date_parse(v, &p->date) < 0)
			p->date = 0;
	} else if (strcasecmp(l, "Connection") == 0) {
		if (has_token(v, "close"))
			p->close = true;
		else if (p->http10 && has_token(v, "keep-alive"))
			p->close = false;
	}
	return HTTP_OK;
}

/* The empty line after the headers: how the body is framed. */
static int headers_done(struct http_parser *p)
{
	if (p->status < 200 && p->status != 101) {
		/* An interim answer (100 Continue): the real one follows. */
		http_body_cb cb = p->cb;
		void *arg = p->arg;
		size_t head = p->head_bytes;

		http_parser_init(p, cb, arg);
		p->head_bytes = head;
		return HTTP_OK;
	}
	if (p->status == 204 || p->status == 304) {
		p->state = HP_DONE;
	} else if (p->chunked) {
		p->state = HP_CHUNK_SIZE;
	} else if (p->has_length) {
		p->state = p->left ? HP_BODY_LEN : HP_DONE;
	} else {
		/* No framing: the body ends when the server closes. */
		p->state = HP_BODY_EOF;
		p->close = true;
	}
	return HTTP_OK;
}

static int chunk_size_line(struct http_parser *p, const char *l)
{
	uint64_t n;
	int len = parse_u64(l, 16, &n);

	/* "1a" or "1a;name=value": extensions are ignored. */
	if (len <= 0 || (l[len] && l[len] != ';' && l[len] != ' ' && l[len] != '\t'))
		return HTTP_ERR_PROTO;
	p->left = n;
	p->state = n ? HP_CHUNK_DATA : HP_TRAILER;
	return HTTP_OK;
}

/* A complete line (CR LF or LF stripped) in the state that wanted one. */
static int on_line(struct http_parser *p, char *l)
{
	switch (p->state) {
	case HP_STATUS:
		return status_line(p, l);
	case HP_HEADER:
		return *l ? header_line(p, l) : headers_done(p);
	case HP_CHUNK_SIZE:
		return chunk_size_line(p, l);
	case HP_CHUNK_END:
		if (*l)
			return HTTP_ERR_PROTO;
		p->state = HP_CHUNK_SIZE;
		return HTTP_OK;
	case HP_TRAILER:
		if (!*l)
			p->state = HP_DONE;
		return HTTP_OK;
	default:
		return HTTP_ERR_PROTO;
	}
}

/* Collect bytes of a line; *used counts them. */
static int take_line(struct http_parser *p, const char *data, size_t n, size_t *used)
{
	const char *nl = memchr(data, '\n', n);
	size_t take = nl ? (size_t)(nl - data) + 1 : n;

	*used = take;
	if (p->state == HP_STATUS || p->state == HP_HEADER) {
		p->head_bytes += take;
		if (p->head_bytes > HEAD_MAX)
			return HTTP_ERR_PROTO;
	}
	if (p->line_len + take >= sizeof(p->line))
		return HTTP_ERR_PROTO;
	memcpy(p->line + p->line_len, data, take);
	p->line_len += take;
	if (!nl)
		return HTTP_OK;
	p->line_len--;
	if (p->line_len && p->line[p->line_len - 1] == '\r')
		p->line_len--;
	p->line[p->line_len] = '\0';
	p->line_len = 0;
	return on_line(p, p->line);
}

static int take_body(struct http_parser *p, const char *data, size_t n, size_t *used)
{
	size_t take = n;

	if (p->state != HP_BODY_EOF && take > p->left)
		take = (size_t)p->left;
	*used = take;
	if (take && p->cb && p->cb(p->arg, data, take))
		return HTTP_ERR_CALLBACK;
	if (p->state == HP_BODY_EOF)
		return HTTP_OK;
	p->left -= take;
	if (!p->left)
		p->state = p->state == HP_CHUNK_DATA ? HP_CHUNK_END : HP_DONE;
	return HTTP_OK;
}

int http_parser_feed(struct http_parser *p, const char *data, size_t n, size_t *used)
{
	size_t off = 0;
	int rc = HTTP_OK;

	while (rc == HTTP_OK && p->state != HP_DONE && off < n) {
		size_t u = 0;

		if (p->state == HP_BODY_LEN || p->state == HP_BODY_EOF ||
		    p->state == HP_CHUNK_DATA)
			rc = take_body(p, data + off, n - off, &u);
		else
			rc = take_line(p, data + off, n - off, &u);
		off += u;
	}
	*used = off;
	if (rc == HTTP_OK && p->state == HP_DONE)
		return HTTP_DONE;
	return rc;
}

int http_parser_eof(struct http_parser *p)
{
	if (p->state == HP_BODY_EOF) {
		p->state = HP_DONE;
		return HTTP_DONE;
	}
	return p->state == HP_DONE ? HTTP_DONE : HTTP_ERR_IO;
}
