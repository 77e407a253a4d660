/* nl_addr.c - interface addresses: dump, add, delete. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink/nl.h"

struct addr_walk {
	nl_addr_fn fn;
	void *arg;
	int family;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_walk *w = data;
	const struct nlattr *attr;
	struct nl_addr a;
	bool have_local = false;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa) || ifa->ifa_family != w->family)
		return MNL_CB_OK;
	memset(&a, 0, sizeof(a));
	a.ifindex = (int)ifa->ifa_index;
	a.scope = ifa->ifa_scope;
	a.pfx.len = ifa->ifa_prefixlen;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		uint16_t t = mnl_attr_get_type(attr);

		/* IFA_LOCAL is the address itself; IFA_ADDRESS the peer on p2p links. */
		if (t == IFA_LOCAL && nl_get_addr(attr, w->family, &a.pfx.addr) == 0)
			have_local = true;
		else if (t == IFA_ADDRESS && !have_local)
			nl_get_addr(attr, w->family, &a.pfx.addr);
	}
	if (!a.pfx.addr.family)
		return MNL_CB_OK;
	return w->fn(&a, w->arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_addr_dump(struct nl *nl, int family, nl_addr_fn fn, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct addr_walk w = { .fn = fn, .arg = arg, .family = family };
	int rc;

	for (int tries = 0; tries < 5; tries++) {
		struct nlmsghdr *nlh = nl_msg_init(buf, RTM_GETADDR, 0);
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

		ifa->ifa_family = (uint8_t)family;
		rc = nl_dump(nl, nlh, addr_cb, &w);
		if (rc != -EINTR)
			break;
	}
	return rc;
}

int nl_addr_change(struct nl *nl, enum nl_op op, const struct nl_addr *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint16_t type = op == NL_DELETE ? RTM_DELADDR : RTM_NEWADDR;
	struct nlmsghdr *nlh = nl_msg_init(buf, type, nl_op_flags(op));
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	int rc;

	ifa->ifa_family = (uint8_t)a->pfx.addr.family;
	ifa->ifa_prefixlen = (uint8_t)a->pfx.len;
	ifa->ifa_scope = a->scope;
	ifa->ifa_index = (uint32_t)a->ifindex;
	nl_put_addr(nlh, IFA_LOCAL, &a->pfx.addr);
	nl_put_addr(nlh, IFA_ADDRESS, &a->pfx.addr);
	rc = nl_request(nl, nlh, NULL, NULL);
	if (op == NL_DELETE && (rc == -EADDRNOTAVAIL || rc == -ENOENT))
		return 0;
	return rc;
}
