/* cni_env.h - subnet.env read with the CNI plugin's rules (upstream's
 * loadFlannelSubnetEnv: network lists, masking, strict errors). */
#ifndef FLANNEL_CNI_ENV_H
#define FLANNEL_CNI_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/subnet.h"

struct cni_env {
	struct prefix *nets, *nets6; /* FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, file order */
	size_t n_nets, n_nets6;
	struct prefix sn, sn6;       /* masked subnets; family 0 when absent */
	unsigned mtu;
	bool has_mtu, ipmasq, has_ipmasq;
};

void cni_env_free(struct cni_env *e);
/*
 * Parse the contents of a subnet.env; path is only used in messages.
 * Returns 0, or -1 with err in Go's words ("invalid CIDR address: x",
 * "<path> is missing FLANNEL_MTU, FLANNEL_IPMASQ").
 */
int cni_env_parse(const char *buf, size_t len, const char *path, struct cni_env *e,
		  char *err, size_t errlen);
/*
 * Read and parse path.  While it does not exist, retry until wait_ms have
 * passed (0: fail at once with upstream's text).  -1 with err.
 */
int cni_env_load(const char *path, int64_t wait_ms, struct cni_env *e, char *err,
		 size_t errlen);

/*
 * Go's net.ParseCIDR.  mask: clear the host bits (the network, as upstream
 * uses for FLANNEL_*), or keep them (the address, as CNI routes keep them).
 * An IPv4-mapped IPv6 prefix becomes IPv4, as Go prints it.  0 or -1.
 */
int cni_cidr_parse(const char *s, size_t n, bool mask, struct prefix *p);
/* Go's ParseUint(s, 10, 32) error text in err; 0 or -1. */
int cni_parse_uint32(const char *s, size_t n, unsigned *v, char *err, size_t errlen);
/* strerror as Go's syscall.Errno prints it: lower-case first letter. */
const char *cni_strerror(int errnum, char *buf, size_t len);

#endif
