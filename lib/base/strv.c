/* strv.c - a vector of formatted strings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/mem.h"
#include "base/strv.h"

void strv_addf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;
	int r;

	if (s->failed)
		return;
	if (s->n + 1 >= s->cap) {
		int cap = s->cap ? s->cap * 2 : 16;
		char **v = fl_realloc(s->v, (size_t)cap * sizeof(*v));

		if (!v) {
			s->failed = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	va_start(ap, fmt);
	r = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	str = r < 0 ? NULL : fl_malloc((size_t)r + 1);
	if (!str) {
		s->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(str, (size_t)r + 1, fmt, ap);
	va_end(ap);
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

int strv_status(const struct strv *s)
{
	if (!s->failed)
		return 0;
	errno = ENOMEM;
	return -1;
}

void strv_clear(struct strv *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){ 0 };
}
