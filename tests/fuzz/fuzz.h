/* fuzz.h - shared by the libFuzzer harnesses: quiet logs, NUL-terminated copies. */
#ifndef FLANNEL_FUZZ_H
#define FLANNEL_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a C string (parsers that take one stop at a NUL, as in use). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An invariant broken: a finding, reported by libFuzzer like a crash. */
#define FUZZ_ASSERT(c)                                                                 \
	do {                                                                           \
		if (!(c))                                                              \
			abort();                                                       \
	} while (0)

#endif
