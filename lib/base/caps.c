/* caps.c - capabilities from /proc/self/status, no libcap needed. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/caps.h"
#include "base/err.h"
#include "base/log.h"

#define CAP_NET_ADMIN_BIT 12

bool caps_net_admin(void)
{
	char line[256];
	uint64_t eff = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %" SCNx64, &eff) == 1;
	fclose(f);
	return found && (eff >> CAP_NET_ADMIN_BIT & 1);
}

int caps_need_net_admin(const char *what)
{
	if (caps_net_admin())
		return 0;
	log_err("%s: needs root or CAP_NET_ADMIN (run it as root, or give it the capability)",
		what);
	return FL_ERR_PERM;
}
