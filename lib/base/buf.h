/* buf.h - the one growable byte buffer: append bytes or printf text, an
 * optional cap, a sticky failure, and the contents handed over at the end. */
#ifndef FLANNEL_BUF_H
#define FLANNEL_BUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Zero-initialise (set max before the first append to cap it).  data is
 * NUL-terminated once anything was added or reserved.  After an allocation
 * failure every append is a no-op and buf_take gives NULL: one check at the
 * end covers a whole sequence of appends.
 */
struct buf {
	char *data;
	size_t len, cap;
	size_t max;     /* 0: no cap; else len never passes it */
	bool truncated; /* bytes past max were dropped */
	bool failed;    /* an allocation failed: the contents are incomplete */
};

/* Room for n more bytes and a NUL: 0, or -1 with errno ENOMEM (the buffer
 * is failed from now on) or EMSGSIZE (len + n would pass max). */
int buf_reserve(struct buf *b, size_t n);
/* n bytes were written into the reserved room after len: count them. */
void buf_commit(struct buf *b, size_t n);
/* Append: 0, or -1 after a failure or when the cap cut it (what fits is kept). */
int buf_add(struct buf *b, const void *data, size_t n);
int buf_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the first n bytes (consumed), keeping the rest at the start. */
void buf_drop(struct buf *b, size_t n);
/* Empty again, keeping its memory and its cap. */
void buf_reset(struct buf *b);
/* Hand over the NUL-terminated contents ("" when empty) and start empty;
 * NULL with errno ENOMEM after a failure (the memory is freed then).  Like
 * buf_free, it keeps max, so the buffer can be filled again. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

#endif
