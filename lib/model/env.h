/* env.h - subnet.env, the file that tells Docker and CNI our subnet. */
#ifndef FLANNEL_ENV_H
#define FLANNEL_ENV_H

#include <stdbool.h>

#include "model/subnet.h"

struct subnet_env {
	struct prefix network, network6; /* family 0 when absent */
	struct prefix subnet, subnet6;   /* masked: 100.64.5.1/24 reads as 100.64.5.0/24 */
	unsigned mtu;                    /* 0 when absent */
	bool ipmasq, has_ipmasq;
};

/*
 * Write upstream's lines, in upstream's order, atomically (temporary file,
 * fsync, rename), mode 0644, creating the directory 0755.  -1 with errno.
 */
int env_write(const char *path, const struct subnet_env *e);
/* Format into buf; returns the length, or -1 when buf is too small. */
int env_format(const struct subnet_env *e, char *buf, size_t len);
/*
 * Read what is there.  Returns 0, or -1 with errno (ENOENT when the file does
 * not exist).  Values that do not parse are ignored, as upstream ignores them.
 */
int env_read(const char *path, struct subnet_env *e);

#endif
