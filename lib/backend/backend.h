/* backend.h - the backend table.  Each backend is one file here
 * (lib/backend/<name>.c) holding everything about it: its Backend keys and
 * defaults, the command lines of its tool, its MTU rule, its plan of kernel
 * objects per remote lease, and its entry below.  flanneld, the tools and
 * --help read this table; docs/HACKING.md says how to add a backend. */
#ifndef FLANNEL_BACKEND_H
#define FLANNEL_BACKEND_H

#include <stdbool.h>

#include "apply/apply.h"
#include "base/strv.h"
#include "model/config.h"

/* The steps flanneld runs a backend's tool for, in this order. */
enum backend_step {
	BACKEND_INIT,  /* before the lease: prints the lease's BackendData */
	BACKEND_POST,  /* once the lease is there: configure the local side */
	BACKEND_APPLY, /* for as long as it runs: lease events on stdin */
};

/* The host as flanneld chose it, for the family a step is about. */
struct backend_host {
	int family;            /* AF_INET or AF_INET6 */
	const char *iface;     /* the underlay interface's name */
	const char *public_ip; /* this host's address on it, as text */
	const char *secret_file; /* where flanneld wrote the backend's secret, or NULL */
};

struct backend {
	const char *name;       /* the network config's Backend.Type */
	const char *about;      /* one line for --help */
	const char *lease_type; /* BackendType in our lease; NULL: none, as upstream writes it */
	const char *tool;       /* the data-path tool flanneld runs; NULL: none */
	/* The tool's command word for each step; NULL: the step does not exist. */
	const char *step_cmd[3];
	bool init_per_family;   /* INIT runs once per enabled family (BackendV6Data too) */
	bool etcd;              /* the tool reads etcd itself: it gets the etcd options */
	bool kernel;            /* a kernel applier: it takes --network, --blackhole-route */
	bool ipv6;              /* EnableIPv6 is supported */
	/* The Backend object's keys: 0, or -1 with err naming the key. */
	int (*check)(const struct net_config *c, char *err, size_t errlen);
	/* FLANNEL_MTU on an underlay of this MTU. */
	unsigned (*mtu)(const struct net_config *c, unsigned underlay);
	/* The backend's own arguments for a step, after the command word;
	 * NULL: none. */
	void (*args)(const struct net_config *c, enum backend_step step,
		     const struct backend_host *h, struct strv *av);
	/* A secret from the Backend object that must stay off command lines
	 * (ps shows them to every user): flanneld writes it, mode 0600, to a
	 * file next to the subnet file and names that file in
	 * backend_host.secret_file.  NULL, or it returns NULL: none. */
	const char *(*secret)(const struct net_config *c);
	/* What the kernel appliers install per remote lease; NULL: none. */
	const struct apply_backend *plan;
	/* The overlay device its tool keeps for a family ("flannel.1",
	 * "flannel-v6.1"), "" for none of that family; NULL: none at all
	 * (host-gw, extension).  flannel-check looks at it. */
	void (*device)(const struct net_config *c, int family, char *buf, size_t len);
	/* The UDP port its packets go to on the peers; NULL: not UDP. */
	unsigned (*port)(const struct net_config *c);
};

extern const struct backend backend_vxlan, backend_hostgw, backend_extension, backend_alloc,
	backend_udp, backend_ipip, backend_wireguard, backend_ipsec;

/* The table, NULL-terminated. */
extern const struct backend *const backend_table[];
/* By Backend.Type (lower case, as config_parse leaves it); NULL when unknown. */
const struct backend *backend_find(const char *name);
/* "vxlan, host-gw, ...": the names, for messages and --help. */
const char *backend_names(void);
/* The underlay MTU unchanged: the rule of backends that add no header. */
static inline unsigned backend_mtu_underlay(const struct net_config *c, unsigned underlay)
{
	(void)c;
	return underlay;
}

#endif
