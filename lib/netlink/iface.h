/* iface.h - which interface and address this host uses on the underlay. */
#ifndef FLANNEL_IFACE_H
#define FLANNEL_IFACE_H

#include <net/if.h>

#include "model/subnet.h"

struct iface {
	char name[IF_NAMESIZE];
	int index;
	unsigned mtu;
	struct ipaddr addr;  /* the address chosen on it */
};

/* The interface holding addr. 0, or -1 when no interface has it. */
int iface_by_addr(const struct ipaddr *addr, struct iface *out);
/* Interface name -> its first global unicast address of that family. */
int iface_by_name(const char *name, int family, struct iface *out);
/* "eth0" or "192.0.2.1": a name, or an address held by an interface. */
int iface_lookup(const char *spec, int family, struct iface *out);
/* The interface of the default route of that family (the first one). */
int iface_default(int family, struct iface *out);
/* Up to max of this host's addresses, on any interface: how many, or -1. */
int iface_local_addrs(struct ipaddr *out, int max);
/* A tool's underlay: spec (name or address), else the holder of public_ip
 * (family 0: none), else the default route's interface.  0, or -1. */
int iface_underlay(const char *spec, const struct ipaddr *public_ip, int family,
		   struct iface *out);
/* Read the MTU of an interface by name; 0 when unknown. */
unsigned iface_mtu(const char *name);

#endif

/*
 * Upstream's choice of interface: each name-or-address in ifaces in order,
 * then each regex (matched against addresses first, then names), then the
 * interface of the route to can_reach; with none of them, the default
 * route's.  Returns 0, or -1 with a reason in err.
 */
int iface_select(const char *const *ifaces, int n_ifaces, const char *const *regexes,
		 int n_regexes, const char *can_reach, int family, struct iface *out, char *err,
		 size_t errlen);
