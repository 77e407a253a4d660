/* apply_dev.c - the overlay device's own address: our subnet's network
 * address as a host route (/32 or /128), and no other, as upstream's vxlan
 * and ipip backends set it. */
#include <string.h>

#include "apply/apply.h"
#include "base/log.h"

struct addr_list {
	struct nl_addr a[16];
	int n, ifindex;
};

static int collect_addr(const struct nl_addr *a, void *arg)
{
	struct addr_list *l = arg;

	if (a->ifindex != l->ifindex || l->n >= 16)
		return 0;
	/* IPv6 link-local addresses stay: the kernel manages them. */
	if (a->pfx.addr.family == AF_INET6 && a->pfx.addr.b[0] == 0xfe &&
	    (a->pfx.addr.b[1] & 0xc0) == 0x80)
		return 0;
	l->a[l->n++] = *a;
	return 0;
}

int apply_dev_address(struct nl *nl, int ifindex, const struct prefix *own, struct nl_link *out)
{
	struct addr_list l = { .ifindex = ifindex };
	struct nl_addr mine = { .ifindex = ifindex, .pfx = { .addr = own->addr } };
	bool present = false;
	char a[ADDR_STRLEN];
	int rc;

	mine.pfx.len = (unsigned)addr_bits(own->addr.family);
	rc = nl_addr_dump(nl, own->addr.family, collect_addr, &l);
	for (int i = 0; rc == 0 && i < l.n; i++) {
		if (prefix_equal(&l.a[i].pfx, &mine.pfx)) {
			present = true;
			continue;
		}
		log_info("remove old address %s", prefix_format(&l.a[i].pfx, a, sizeof(a)));
		rc = nl_addr_change(nl, NL_DELETE, &l.a[i]);
	}
	if (rc == 0 && !present)
		rc = nl_addr_change(nl, NL_CREATE, &mine);
	if (rc == 0)
		rc = nl_link_set_up(nl, ifindex);
	if (rc == 0)
		rc = nl_link_get(nl, NULL, ifindex, out);
	if (rc < 0) {
		log_err("configure address %s: %s", prefix_format(&mine.pfx, a, sizeof(a)),
			nl_strerror(nl, rc));
		return rc;
	}
	log_info("%s has address %s", out->name, prefix_format(&mine.pfx, a, sizeof(a)));
	return 0;
}
