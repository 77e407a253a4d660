/* mem.h - checked allocation with a fault-injection switch for tests. */
#ifndef FLANNEL_MEM_H
#define FLANNEL_MEM_H

#include <stddef.h>

void *fl_malloc(size_t n);
void *fl_calloc(size_t nmemb, size_t size);
void *fl_realloc(void *p, size_t n);
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);
/* An optional string: NULL for NULL or "", else a copy; *bad = 1 when the
 * copy failed (so several can be made before one check). */
char *fl_strdup_opt(const char *s, int *bad);
/* Make the nth allocation from now on fail (1 = the next one); 0 turns it off.
 * Unit test builds also read FAIL_ALLOC_AT and FAIL_ALLOC_COUNT (mem.c). */
void fl_alloc_fail_at(unsigned long n);
/* Route jansson's allocations through the counter above. */
void fl_alloc_hook_jansson(void);

#endif
