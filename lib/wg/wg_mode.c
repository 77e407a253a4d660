/* wg_mode.c - Backend.Mode and the overhead it implies, apart from
 * wg_run.c: the backend table (flanneld, flannel-check) needs these two
 * and nothing else of the tool. */
#include <string.h>

#include "wg/wg_run.h"

unsigned wg_overhead(enum wg_mode mode, bool v4, bool v6)
{
	switch (mode) {
	case WG_MODE_IPV4:
		return WG_OVERHEAD_V4;
	case WG_MODE_IPV6:
		return WG_OVERHEAD_V6;
	default: /* separate, auto: an IPv6 outer header wherever IPv6 is on */
		return v6 || !v4 ? WG_OVERHEAD_V6 : WG_OVERHEAD_V4;
	}
}

int wg_mode_parse(const char *s, enum wg_mode *out)
{
	static const char *const names[] = { "separate", "auto", "ipv4", "ipv6" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum wg_mode)i;
			return 0;
		}
	return -1;
}
