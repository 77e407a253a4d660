/* htab.h - an open-addressing hash table of fixed-size records, the key at
 * the start of each record (compared as bytes: zero the padding). */
#ifndef FLANNEL_HTAB_H
#define FLANNEL_HTAB_H

#include <stdbool.h>
#include <stddef.h>

struct htab {
	unsigned char *slots;
	unsigned char *used;
	size_t cap, count, esize, klen;
};

void htab_init(struct htab *h, size_t esize, size_t klen);
void htab_free(struct htab *h);
void htab_clear(struct htab *h);
void *htab_get(const struct htab *h, const void *key);
/* The record for key, zeroed with the key set when new (*created).  Pointers
 * into the table stay valid until the next htab_put or htab_del.  NULL on ENOMEM. */
void *htab_put(struct htab *h, const void *key, bool *created);
void htab_del(struct htab *h, const void *key);
/* Iterate: start with *it = 0; NULL at the end.  No put/del while iterating. */
void *htab_next(const struct htab *h, size_t *it);

#endif
