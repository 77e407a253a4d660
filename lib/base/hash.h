/* hash.h - 32-bit FNV-1a, for ids that must stay the same across restarts
 * (nexthop id ranges, IPsec reqids): htab's own hash may change, these not. */
#ifndef FLANNEL_HASH_H
#define FLANNEL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FL_FNV1A32_INIT 2166136261u

static inline uint32_t fl_fnv1a32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 16777619u;
	return h;
}

#endif
