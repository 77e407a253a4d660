/* apply_nhid.c - nexthop ids: each network's range of its own, handed out
 * in order and, once the range is used up, again around those in use. */
#include <errno.h>
#include <stdlib.h>

#include "apply/apply_priv.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"

/* Every applier of a host shares the kernel's nexthop ids: flanneld
 * --networks runs one per network.  A nexthop is ours only with an id of our
 * network's range, so that no applier adopts or purges another's.  Ranges
 * are 2^NH_SEQ_BITS ids; range 0 (from NH_RANGE0_BASE, above the small ids
 * people type) is the applier's that knows no network, and what earlier
 * versions numbered from; the others are picked by a hash of the network,
 * so that they stay the same across restarts. */
#define NH_RANGES (1u << (32 - NH_SEQ_BITS))

void nh_range(struct applier *a)
{
	const struct prefix *net[2] = { &a->o.network, &a->o.network6 };
	uint32_t h = FL_FNV1A32_INIT, slot = 0;

	for (int i = 0; i < 2; i++) {
		if (!net[i]->addr.family)
			continue;
		h = fl_fnv1a32(h, &net[i]->addr.family, sizeof(net[i]->addr.family));
		h = fl_fnv1a32(h, net[i]->addr.b, i ? 16 : 4);
		h = fl_fnv1a32(h, &net[i]->len, sizeof(net[i]->len));
		slot = 1 + h % (NH_RANGES - 1);
	}
	a->nh_lo = slot ? slot << NH_SEQ_BITS : NH_RANGE0_BASE;
	a->nh_hi = (slot << NH_SEQ_BITS) | ((1u << NH_SEQ_BITS) - 1);
	a->next_nhid = a->nh_lo;
}

static bool nh_taken(const struct applier *a, uint32_t id)
{
	uint32_t i = id - a->nh_lo;

	return a->nh_used && (a->nh_used[i >> 3] >> (i & 7)) & 1;
}

/* Past the end of the range (a million peers added over the applier's
 * life), start again from its beginning, around the ids peers hold. */
static int nh_wrap(struct applier *a)
{
	size_t it = 0;
	struct peer *p;

	free(a->nh_used);
	a->nh_used = fl_calloc((size_t)(a->nh_hi - a->nh_lo) / 8 + 1, 1);
	if (!a->nh_used)
		return -1;
	while ((p = htab_next(&a->peers, &it)) != NULL)
		if ((p->have & HAVE_NH) && p->nhid >= a->nh_lo && p->nhid <= a->nh_hi)
			a->nh_used[(p->nhid - a->nh_lo) >> 3] |=
				(uint8_t)(1u << ((p->nhid - a->nh_lo) & 7));
	a->next_nhid = a->nh_lo;
	log_notice("nexthop ids %u..%u all handed out once: reusing the free ones", a->nh_lo,
		   a->nh_hi);
	return 0;
}

int nh_alloc(struct applier *a, uint32_t *id)
{
	for (int pass = 0; pass < 2; pass++) {
		/* next_nhid wraps to 0 after 0xffffffff, below every range. */
		while (a->next_nhid >= a->nh_lo && a->next_nhid <= a->nh_hi) {
			uint32_t c = a->next_nhid++;

			if (!nh_taken(a, c)) {
				*id = c;
				return 0;
			}
		}
		if (pass == 0 && nh_wrap(a) < 0)
			return -1;
	}
	log_err("no free nexthop id left in %u..%u", a->nh_lo, a->nh_hi);
	errno = ENOSPC;
	return -1;
}
