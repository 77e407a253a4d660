/* htab.c - linear probing with backward-shift deletion (no tombstones). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "mem.h"

void htab_init(struct htab *h, size_t esize, size_t klen)
{
	memset(h, 0, sizeof(*h));
	h->esize = esize;
	h->klen = klen;
}

void htab_free(struct htab *h)
{
	free(h->slots);
	free(h->used);
	htab_init(h, h->esize, h->klen);
}

void htab_clear(struct htab *h)
{
	if (h->used)
		memset(h->used, 0, h->cap);
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

static unsigned char *slot(const struct htab *h, size_t i)
{
	return h->slots + i * h->esize;
}

static size_t find(const struct htab *h, const void *key, bool *found)
{
	size_t i = hash_key(key, h->klen) & (h->cap - 1);

	while (h->used[i]) {
		if (memcmp(slot(h, i), key, h->klen) == 0) {
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
	return found ? slot(h, i) : NULL;
}

static int grow(struct htab *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 64;
	struct htab n = *h;

	n.slots = fl_malloc(ncap * h->esize);
	n.used = fl_calloc(ncap, 1);
	if (!n.slots || !n.used) {
		free(n.slots);
		free(n.used);
		return -1;
	}
	n.cap = ncap;
	n.count = 0;
	for (size_t i = 0; i < h->cap; i++) {
		bool found;
		size_t j;

		if (!h->used[i])
			continue;
		j = find(&n, slot(h, i), &found);
		memcpy(slot(&n, j), slot(h, i), h->esize);
		n.used[j] = 1;
		n.count++;
	}
	free(h->slots);
	free(h->used);
	*h = n;
	return 0;
}

void *htab_put(struct htab *h, const void *key, bool *created)
{
	bool found;
	size_t i;

	if ((h->count + 1) * 10 > h->cap * 7 && grow(h) < 0)
		return NULL;
	i = find(h, key, &found);
	if (created)
		*created = !found;
	if (!found) {
		memset(slot(h, i), 0, h->esize);
		memcpy(slot(h, i), key, h->klen);
		h->used[i] = 1;
		h->count++;
	}
	return slot(h, i);
}

void htab_del(struct htab *h, const void *key)
{
	bool found;
	size_t i, j;

	if (!h->count)
		return;
	i = find(h, key, &found);
	if (!found)
		return;
	h->used[i] = 0;
	h->count--;
	/* Move later members of the probe run back into the hole. */
	for (j = (i + 1) & (h->cap - 1); h->used[j]; j = (j + 1) & (h->cap - 1)) {
		size_t home = hash_key(slot(h, j), h->klen) & (h->cap - 1);

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			memcpy(slot(h, i), slot(h, j), h->esize);
			h->used[i] = 1;
			h->used[j] = 0;
			i = j;
		}
	}
}

void *htab_next(const struct htab *h, size_t *it)
{
	while (*it < h->cap) {
		size_t i = (*it)++;

		if (h->used[i])
			return slot(h, i);
	}
	return NULL;
}
