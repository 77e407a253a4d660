/* srv_reply.c - flannel-server's replies: the status line, the headers, the
 * body, and the request's log line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/timefmt.h"
#include "server/srv_conn.h"

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Error";
	}
}

void srv_reply(struct srv *s, struct conn *c, int status, const char *ctype, const char *body,
	       size_t len)
{
	char m[64], u[LOG_ESC_MAX];

	/* Errors of the request itself end the connection: its bytes cannot be trusted. */
	if (status >= 400 && status != 404 && status != 403 && status != 409 && status != 429 &&
	    status < 500)
		c->close_after = true;
	if (c->req.close)
		c->close_after = true;
	buf_reset(&c->out);
	c->out_off = 0;
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
		   status, reason(status), ctype, len, c->close_after ? "Connection: close\r\n" : "");
	buf_add(&c->out, body, len);
	if (c->out.failed) {
		log_err("reply to %s: out of memory", c->peer_s);
		c->state = C_CLOSED;
		return;
	}
	log_notice("%s %s - %d", log_escape(c->req.method, strlen(c->req.method), m, sizeof(m)),
		   c->req.uri[0] ? log_escape(c->req.uri, strlen(c->req.uri), u, sizeof(u)) : "-",
		   status);
	s->requests++;
	if (c->state == C_PARKED)
		s->n_parked--;
	c->state = C_WRITING;
	c->deadline = mono_ms() + s->o->read_timeout_ms * 3;
}

void srv_reply_text(struct srv *s, struct conn *c, int status, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(text) - 2)
		n = (int)sizeof(text) - 2;
	text[n++] = '\n';
	srv_reply(s, c, status, "text/plain; charset=utf-8", text, (size_t)n);
}
