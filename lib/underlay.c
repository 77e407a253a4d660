/* underlay.c - which interface carries the overlay, and from which address. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "vxlan.h"

struct addr_search {
	int family;
	int ifindex;               /* find an address on this link (0: any) */
	const struct ipaddr *want; /* find the link holding this address */
	struct nl_addr found;
	bool ok;
};

static int addr_match(const struct nl_addr *a, void *arg)
{
	struct addr_search *s = arg;

	if (s->ok || a->pfx.addr.family != s->family)
		return 0;
	if (s->want && !addr_equal(&a->pfx.addr, s->want))
		return 0;
	if (!s->want && (a->ifindex != s->ifindex || a->scope != 0))
		return 0; /* only global addresses can be a VTEP source */
	s->found = *a;
	s->ok = true;
	return 0;
}

static int find_addr(struct nl *nl, int family, int ifindex, const struct ipaddr *want,
		     struct nl_addr *out)
{
	struct addr_search s = { .family = family, .ifindex = ifindex, .want = want };
	int rc = nl_addr_dump(nl, family, addr_match, &s);

	if (rc < 0)
		return rc;
	if (!s.ok)
		return -EADDRNOTAVAIL;
	*out = s.found;
	return 0;
}

static int default_route(const struct nl_route *r, void *arg)
{
	uint32_t *oif = arg;

	if (r->dst.len == 0 && r->oif && !*oif)
		*oif = r->oif;
	return 0;
}

static int link_by_default_route(struct nl *nl, int family, struct nl_link *link)
{
	uint32_t oif = 0;
	int rc = nl_route_dump(nl, family, 0, default_route, &oif);

	if (rc < 0)
		return rc;
	if (!oif) {
		log_err("find the underlay interface: no default route; use --iface");
		return -ENETUNREACH;
	}
	return nl_link_get(nl, NULL, (int)oif, link);
}

int underlay_find(struct nl *nl, const char *iface, const struct ipaddr *public_ip, int family,
		  struct nl_link *link, struct ipaddr *addr)
{
	struct ipaddr ifaddr;
	struct nl_addr found;
	int rc;

	if (iface && addr_parse(iface, &ifaddr) == 0) {
		if ((rc = find_addr(nl, family, 0, &ifaddr, &found)) < 0) {
			log_err("find interface with address %s: %s", iface, strerror(-rc));
			return rc;
		}
		rc = nl_link_get(nl, NULL, found.ifindex, link);
	} else if (iface) {
		rc = nl_link_get(nl, iface, 0, link);
	} else if (public_ip && public_ip->family) {
		rc = find_addr(nl, family, 0, public_ip, &found);
		if (rc == 0)
			rc = nl_link_get(nl, NULL, found.ifindex, link);
	} else {
		rc = link_by_default_route(nl, family, link);
	}
	if (rc < 0) {
		log_err("find the underlay interface%s%s: %s", iface ? " " : "", iface ? iface : "",
			nl_strerror(nl, rc));
		return rc;
	}
	if (public_ip && public_ip->family) {
		*addr = *public_ip;
		return 0;
	}
	rc = find_addr(nl, family, link->ifindex, NULL, &found);
	if (rc < 0) {
		log_err("find an IPv%d address on %s: %s", family == AF_INET6 ? 6 : 4, link->name,
			strerror(-rc));
		return rc;
	}
	*addr = found.pfx.addr;
	return 0;
}
