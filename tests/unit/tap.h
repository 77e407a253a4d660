/* tap.h - a minimal TAP producer for unit tests. */
#ifndef FLANNEL_TAP_H
#define FLANNEL_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                          \
	do {                                                                   \
		int ok_c_ = !!(cond);                                          \
		printf("%s %d - ", ok_c_ ? "ok" : "not ok", ++tap_n);          \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		if (!ok_c_) {                                                  \
			tap_failed++;                                          \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__,   \
			       #cond);                                         \
		}                                                              \
	} while (0)

#define is_str(got, want, ...)                                                 \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		int same_ = g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_;         \
		ok(same_, __VA_ARGS__);                                        \
		if (!same_)                                                    \
			printf("#   got:  '%s'\n#   want: '%s'\n",             \
			       g_ ? g_ : "(null)", w_ ? w_ : "(null)");        \
	} while (0)

#define is_int(got, want, ...)                                                 \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		ok(g_ == w_, __VA_ARGS__);                                     \
		if (g_ != w_)                                                  \
			printf("#   got:  %lld\n#   want: %lld\n", g_, w_);    \
	} while (0)

/* Something the test itself needs was not made (an allocation failed under
 * scripts/alloc-sweep.sh's FAIL_ALLOC_AT): stop as a failed test, not a
 * crash.  exit() still runs LeakSanitizer. */
#define need(cond)                                                             \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("Bail out! %s:%d: %s\n", __FILE__, __LINE__,    \
			       #cond);                                         \
			fflush(stdout);                                        \
			exit(1);                                               \
		}                                                              \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
