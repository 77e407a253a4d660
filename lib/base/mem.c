/* mem.c - allocation wrappers; a counter lets tests fail the Nth allocation. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static unsigned long fail_at;
static unsigned long alloc_count;

#ifdef FL_ALLOC_ENV
/*
 * Test builds only (the unit tests' library, -DFL_ALLOC_ENV): FAIL_ALLOC_AT=N
 * fails the Nth allocation of the whole run, once; FAIL_ALLOC_COUNT=1 prints
 * the number of allocations at exit.  Allocations made while a test's own
 * fl_alloc_fail_at is on are not counted: that test fails them one by one
 * already.  scripts/alloc-sweep.sh runs every unit test with N = 1..count.
 * jansson's allocations are never failed by it, even where a test routes
 * them through fl_alloc_hook_jansson: libjansson 2.14 itself crashes on some
 * failed allocations inside json_loads (the sweep found it; the tools leave
 * jansson on plain malloc).
 */
static unsigned long env_fail_at, env_count;
static int in_jansson;

static void env_report(void)
{
	fprintf(stderr, "fl_alloc: %lu allocations\n", env_count);
}

__attribute__((constructor)) static void env_init(void)
{
	const char *at = getenv("FAIL_ALLOC_AT"), *count = getenv("FAIL_ALLOC_COUNT");

	if (at && *at)
		env_fail_at = strtoul(at, NULL, 10);
	if (count && strcmp(count, "1") == 0)
		atexit(env_report);
}
#endif

void fl_alloc_fail_at(unsigned long n)
{
	fail_at = n;
	alloc_count = 0;
}

static int should_fail(void)
{
#ifdef FL_ALLOC_ENV
	if (!fail_at && !in_jansson && ++env_count == env_fail_at)
		return 1;
#endif
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

char *fl_strdup_opt(const char *s, int *bad)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = fl_strdup(s);
	if (!d)
		*bad = 1;
	return d;
}

static void *jansson_malloc(size_t n)
{
#ifdef FL_ALLOC_ENV
	void *p;

	in_jansson = 1;
	p = fl_malloc(n);
	in_jansson = 0;
	return p;
#else
	return fl_malloc(n);
#endif
}
static void jansson_free(void *p) { free(p); }

void fl_alloc_hook_jansson(void)
{
	json_set_alloc_funcs(jansson_malloc, jansson_free);
}
