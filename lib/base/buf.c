/* buf.c - a growable byte buffer; one failure makes the whole contents fail. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"

#define BUF_FIRST 256

/* Room for n more bytes and a NUL whatever the cap; 0, or -1 (failed). */
static int grow(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + n < b->cap)
		return 0;
	if (n >= (size_t)-1 / 2 - b->len) {
		b->failed = true;
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap ? b->cap * 2 : BUF_FIRST;
	if (cap < b->len + n + 1)
		cap = b->len + n + 1;
	/* Never more than a capped buffer can hold. */
	if (b->max && cap > b->max + 1 && b->len + n <= b->max)
		cap = b->max + 1;
	p = fl_realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	if (b->max && b->len + n > b->max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (grow(b, n) < 0)
		return -1;
	b->data[b->len] = '\0';
	return 0;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

/* How much of n fits under the cap; marks the buffer truncated when not all. */
static size_t fit(struct buf *b, size_t n)
{
	if (!b->max || b->len + n <= b->max)
		return n;
	b->truncated = true;
	return b->len < b->max ? b->max - b->len : 0;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
	size_t k = fit(b, n);

	if (grow(b, k) < 0)
		return -1;
	if (k)
		memcpy(b->data + b->len, data, k);
	buf_commit(b, k);
	return k == n ? 0 : -1;
}

int buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t k;
	int n;

	if (b->failed)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return -1;
	}
	k = fit(b, (size_t)n);
	if (grow(b, k) < 0)
		return -1;
	/* vsnprintf itself cuts the text at the cap. */
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, k + 1, fmt, ap);
	va_end(ap);
	b->len += k;
	return k == (size_t)n ? 0 : -1;
}

void buf_drop(struct buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (!n)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->truncated = b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

char *buf_take(struct buf *b)
{
	size_t max = b->max;
	char *s;

	if (!b->failed && !b->data)
		grow(b, 0);
	if (b->failed) {
		buf_free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->data[b->len] = '\0';
	s = b->data;
	memset(b, 0, sizeof(*b));
	b->max = max;
	return s;
}

void buf_free(struct buf *b)
{
	size_t max = b->max;

	free(b->data);
	memset(b, 0, sizeof(*b));
	b->max = max;
}
