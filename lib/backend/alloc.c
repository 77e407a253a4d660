/* alloc.c - the alloc backend: a lease and subnet.env, nothing else; the
 * lease carries no BackendType, as upstream's. */
#include "backend/backend.h"

const struct backend backend_alloc = {
	.name = "alloc",
	.about = "only lease a subnet and write subnet.env (no data path)",
	.ipv6 = true,
	.mtu = backend_mtu_underlay,
};
