/* peers.c - longest-prefix match by one hash probe per distinct prefix
 * length (a network has one or few), and a sorted array of the peers'
 * public IPs for the source check. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "udp/peers.h"

struct slot {
	uint32_t key;      /* masked address, host order */
	uint32_t nh;       /* next hop, network order; 0: empty slot */
	uint8_t len;
};

struct udp_table {
	size_t n, nsrc;
	uint32_t mask;     /* slots - 1 */
	uint8_t nlens, lens[33]; /* distinct lengths, longest first */
	struct slot *slots;
	uint32_t *srcs;    /* sorted, host order */
};

static uint32_t hash(uint32_t key, uint8_t len)
{
	uint32_t h = (key ^ ((uint32_t)len << 24)) * 0x9e3779b1u;

	return h ^ (h >> 15);
}

static uint32_t len_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void insert(struct udp_table *t, uint32_t key, uint8_t len, uint32_t nh)
{
	for (uint32_t i = hash(key, len) & t->mask;; i = (i + 1) & t->mask) {
		struct slot *s = &t->slots[i];

		if (!s->nh || (s->key == key && s->len == len)) {
			*s = (struct slot){ .key = key, .nh = nh, .len = len };
			return;
		}
	}
}

struct udp_table *udp_table_build(const struct udp_peer *p, size_t n)
{
	struct udp_table *t = fl_calloc(1, sizeof(*t));
	bool seen[33] = { 0 };
	size_t cap = 16, k = 0;

	if (!t)
		return NULL;
	while (cap < n * 2)
		cap *= 2;
	t->mask = (uint32_t)cap - 1;
	t->slots = fl_calloc(cap, sizeof(*t->slots));
	t->srcs = fl_calloc(n ? n : 1, sizeof(*t->srcs));
	if (!t->slots || !t->srcs) {
		udp_table_free(t);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t len = p[i].len > 32 ? 32 : p[i].len;

		insert(t, ntohl(p[i].net) & len_mask(len), len, p[i].public_ip);
		seen[len] = true;
		t->srcs[i] = ntohl(p[i].public_ip);
	}
	for (int len = 32; len >= 0; len--)
		if (seen[len])
			t->lens[t->nlens++] = (uint8_t)len;
	qsort(t->srcs, n, sizeof(*t->srcs), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (!k || t->srcs[k - 1] != t->srcs[i])
			t->srcs[k++] = t->srcs[i];
	t->nsrc = k;
	t->n = n;
	return t;
}

void udp_table_free(struct udp_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->srcs);
	free(t);
}

size_t udp_table_size(const struct udp_table *t)
{
	return t ? t->n : 0;
}

uint32_t udp_table_route(const struct udp_table *t, uint32_t dst)
{
	uint32_t d = ntohl(dst);

	if (!t)
		return 0;
	for (uint8_t i = 0; i < t->nlens; i++) {
		uint8_t len = t->lens[i];
		uint32_t key = d & len_mask(len);

		for (uint32_t j = hash(key, len) & t->mask; t->slots[j].nh; j = (j + 1) & t->mask)
			if (t->slots[j].key == key && t->slots[j].len == len)
				return t->slots[j].nh;
	}
	return 0;
}

int udp_table_has_source(const struct udp_table *t, uint32_t ip)
{
	uint32_t v = ntohl(ip);
	size_t lo = 0, hi = t ? t->nsrc : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->srcs[mid] == v)
			return 1;
		if (t->srcs[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
