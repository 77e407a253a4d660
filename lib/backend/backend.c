/* backend.c - the table of backends: one line each. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

const struct backend *const backend_table[] = {
	&backend_vxlan,
	&backend_hostgw,
	&backend_extension,
	&backend_alloc,
	&backend_udp,
	&backend_ipip,
	&backend_wireguard,
	&backend_ipsec,
	NULL,
};

const struct backend *backend_find(const char *name)
{
	for (int i = 0; backend_table[i]; i++)
		if (strcmp(backend_table[i]->name, name) == 0)
			return backend_table[i];
	return NULL;
}

const char *backend_names(void)
{
	static char names[256];
	size_t len = 0;

	if (names[0])
		return names;
	for (int i = 0; backend_table[i] && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
					backend_table[i]->name);
	return names;
}
