/* sbuf.h - a growing string for generated scripts (nft, iptables-restore). */
#ifndef FLANNEL_SBUF_H
#define FLANNEL_SBUF_H

#include <stddef.h>

/* Zero-initialise; after an allocation failure it stays failed. */
struct sbuf {
	char *s;
	size_t len, cap;
	int failed;
};

void sbuf_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand over the string (NULL when nothing was added): 0, or -1 with ENOMEM
 * after a failure (the buffer is freed either way). */
int sbuf_finish(struct sbuf *b, char **out);

#endif
