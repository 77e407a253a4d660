/* htab.h - a hash table of fixed-size records, the key at the start of each
 * record (compared as bytes: zero the padding).  Records are kept dense, in
 * insertion order modulo deletions, so memory grows with the count and not
 * with the table size. */
#ifndef FLANNEL_HTAB_H
#define FLANNEL_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htab {
	unsigned char *recs;  /* count records of esize bytes */
	uint32_t *slots;      /* record index + 1, 0 = empty; cap is a power of 2 */
	size_t cap, count, rcap, esize, klen;
};

void htab_init(struct htab *h, size_t esize, size_t klen);
void htab_free(struct htab *h);
void htab_clear(struct htab *h);
void *htab_get(const struct htab *h, const void *key);
/* The record for key, zeroed with the key set when new (*created).  Pointers
 * into the table stay valid until the next htab_put or htab_del.  NULL on ENOMEM. */
void *htab_put(struct htab *h, const void *key, bool *created);
void htab_del(struct htab *h, const void *key);
/* Delete every record for which drop(rec, arg) is true; how many went. */
size_t htab_del_if(struct htab *h, bool (*drop)(const void *rec, void *arg), void *arg);
/* Iterate: start with *it = 0; NULL at the end.  No put/del while iterating. */
void *htab_next(const struct htab *h, size_t *it);

#endif
