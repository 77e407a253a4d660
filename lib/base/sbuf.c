/* sbuf.c - a growing string; one failure makes the whole string fail. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/mem.h"
#include "base/sbuf.h"

/* Room for N more bytes and a NUL; 0, or -1 after marking the buffer failed. */
static int sbuf_grow(struct sbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n < b->cap)
		return 0;
	cap = (b->cap ? b->cap * 2 : 1024) + n;
	p = fl_realloc(b->s, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->s = p;
	b->cap = cap;
	return 0;
}

void sbuf_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if (sbuf_grow(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int sbuf_finish(struct sbuf *b, char **out)
{
	if (b->failed) {
		free(b->s);
		*out = NULL;
		errno = ENOMEM;
		return -1;
	}
	*out = b->s;
	return 0;
}
