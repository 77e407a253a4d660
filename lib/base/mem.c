/* mem.c - allocation wrappers; a counter lets tests fail the Nth allocation. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static unsigned long fail_at;
static unsigned long alloc_count;

void fl_alloc_fail_at(unsigned long n)
{
	fail_at = n;
	alloc_count = 0;
}

static int should_fail(void)
{
	if (!fail_at)
		return 0;
	return ++alloc_count == fail_at;
}

void *fl_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *fl_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *fl_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *fl_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = fl_malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *fl_strdup(const char *s)
{
	return fl_strndup(s, strlen(s));
}

static void *jansson_malloc(size_t n) { return fl_malloc(n); }
static void jansson_free(void *p) { free(p); }

void fl_alloc_hook_jansson(void)
{
	json_set_alloc_funcs(jansson_malloc, jansson_free);
}
