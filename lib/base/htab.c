/* htab.c - linear probing over an index array, backward-shift deletion (no
 * tombstones); the records themselves live in a dense array, so that only
 * the pages of records in use are touched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "base/mem.h"

void htab_init(struct htab *h, size_t esize, size_t klen)
{
	memset(h, 0, sizeof(*h));
	h->esize = esize;
	h->klen = klen;
}

void htab_free(struct htab *h)
{
	free(h->recs);
	free(h->slots);
	htab_init(h, h->esize, h->klen);
}

void htab_clear(struct htab *h)
{
	if (h->slots)
		memset(h->slots, 0, h->cap * sizeof(*h->slots));
	h->count = 0;
}

/* FNV-1a, then a final mix so that nearby keys spread over the table. */
static size_t hash_key(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t x = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		x = (x ^ p[i]) * 1099511628211ULL;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static unsigned char *rec(const struct htab *h, size_t r)
{
	return h->recs + r * h->esize;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const struct htab *h, const void *key, bool *found)
{
	size_t i = hash_key(key, h->klen) & (h->cap - 1);

	while (h->slots[i]) {
		if (memcmp(rec(h, h->slots[i] - 1), key, h->klen) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & (h->cap - 1);
	}
	*found = false;
	return i;
}

void *htab_get(const struct htab *h, const void *key)
{
	bool found;
	size_t i;

	if (!h->count)
		return NULL;
	i = find(h, key, &found);
	return found ? rec(h, h->slots[i] - 1) : NULL;
}

static int grow_slots(struct htab *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 64;
	uint32_t *n = fl_calloc(ncap, sizeof(*n));

	if (!n)
		return -1;
	free(h->slots);
	h->slots = n;
	h->cap = ncap;
	for (size_t r = 0; r < h->count; r++) {
		bool found;

		h->slots[find(h, rec(h, r), &found)] = (uint32_t)(r + 1);
	}
	return 0;
}

static int grow_recs(struct htab *h)
{
	size_t ncap = h->rcap ? h->rcap * 2 : 32;
	unsigned char *n = fl_realloc(h->recs, ncap * h->esize);

	if (!n)
		return -1;
	h->recs = n;
	h->rcap = ncap;
	return 0;
}

void *htab_put(struct htab *h, const void *key, bool *created)
{
	bool found;
	size_t i;

	if ((h->count + 1) * 10 > h->cap * 7 && grow_slots(h) < 0)
		return NULL;
	i = find(h, key, &found);
	if (created)
		*created = !found;
	if (found)
		return rec(h, h->slots[i] - 1);
	if (h->count == h->rcap && grow_recs(h) < 0)
		return NULL;
	memset(rec(h, h->count), 0, h->esize);
	memcpy(rec(h, h->count), key, h->klen);
	h->slots[i] = (uint32_t)(++h->count);
	return rec(h, h->count - 1);
}

/* Empty slot i and move later members of its probe run back into the hole. */
static void slot_remove(struct htab *h, size_t i)
{
	h->slots[i] = 0;
	for (size_t j = (i + 1) & (h->cap - 1); h->slots[j]; j = (j + 1) & (h->cap - 1)) {
		size_t home = hash_key(rec(h, h->slots[j] - 1), h->klen) & (h->cap - 1);

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			h->slots[i] = h->slots[j];
			h->slots[j] = 0;
			i = j;
		}
	}
}

void htab_del(struct htab *h, const void *key)
{
	size_t i, r, last;
	bool found;

	if (!h->count)
		return;
	i = find(h, key, &found);
	if (!found)
		return;
	r = h->slots[i] - 1;
	slot_remove(h, i);
	last = h->count - 1;
	if (r != last) {
		/* Keep the records dense: the last one fills the hole. */
		i = find(h, rec(h, last), &found);
		memcpy(rec(h, r), rec(h, last), h->esize);
		h->slots[i] = (uint32_t)(r + 1);
	}
	h->count--;
}

size_t htab_del_if(struct htab *h, bool (*drop)(const void *rec, void *arg), void *arg)
{
	size_t i = 0, n = 0;

	while (i < h->count) {
		/* htab_del fills the hole with the last record: look at i again. */
		if (drop(rec(h, i), arg)) {
			htab_del(h, rec(h, i));
			n++;
		} else {
			i++;
		}
	}
	return n;
}

void *htab_next(const struct htab *h, size_t *it)
{
	if (*it >= h->count)
		return NULL;
	return rec(h, (*it)++);
}
