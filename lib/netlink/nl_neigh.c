/* nl_neigh.c - neighbour and FDB entries: batched writes and dumps. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink/nl.h"

static void neigh_build(struct nlmsghdr *nlh, enum nl_op op, const struct nl_neigh *n)
{
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

	ndm->ndm_family = (uint8_t)n->family;
	ndm->ndm_ifindex = n->ifindex;
	ndm->ndm_state = n->state;
	ndm->ndm_flags = n->flags;
	ndm->ndm_type = RTN_UNICAST;
	if (n->family == AF_BRIDGE) {
		/* FDB: the MAC is the key, the remote VTEP the destination. */
		mnl_attr_put(nlh, NDA_LLADDR, 6, n->mac);
		if (n->ip.family)
			nl_put_addr(nlh, NDA_DST, &n->ip);
		return;
	}
	nl_put_addr(nlh, NDA_DST, &n->ip);
	if (op != NL_DELETE) {
		mnl_attr_put(nlh, NDA_LLADDR, 6, n->mac);
		if (n->protocol)
			mnl_attr_put_u8(nlh, NDA_PROTOCOL, n->protocol);
	}
}

int nl_neigh_queue(struct nl *nl, enum nl_op op, const struct nl_neigh *n, const void *cookie,
		   size_t cookie_len)
{
	void *c;
	struct nlmsghdr *nlh = nl_batch_msg(nl, op == NL_DELETE ? RTM_DELNEIGH : RTM_NEWNEIGH,
					    op, &c);

	if (!nlh)
		return -1;
	neigh_build(nlh, op, n);
	if (c && cookie)
		memcpy(c, cookie, cookie_len);
	return 0;
}

int nl_neigh_parse(const struct nlmsghdr *nlh, struct nl_neigh *n)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	memset(n, 0, sizeof(*n));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm))
		return -1;
	n->family = ndm->ndm_family;
	n->ifindex = ndm->ndm_ifindex;
	n->state = ndm->ndm_state;
	n->flags = ndm->ndm_flags;
	mnl_attr_for_each(attr, nlh, sizeof(*ndm)) {
		switch (mnl_attr_get_type(attr)) {
		case NDA_DST:
			/* FDB destinations may be either family: decide by length. */
			if (mnl_attr_get_payload_len(attr) == 16)
				nl_get_addr(attr, AF_INET6, &n->ip);
			else
				nl_get_addr(attr, AF_INET, &n->ip);
			break;
		case NDA_LLADDR:
			if (mnl_attr_get_payload_len(attr) == 6)
				memcpy(n->mac, mnl_attr_get_payload(attr), 6);
			break;
		case NDA_PROTOCOL:
			n->protocol = mnl_attr_get_u8(attr);
			break;
		}
	}
	return 0;
}

struct neigh_walk {
	nl_neigh_fn fn;
	void *arg;
	int family, ifindex;
};

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_walk *w = data;
	struct nl_neigh n;

	if (nl_neigh_parse(nlh, &n) < 0 || n.family != w->family || n.ifindex != w->ifindex)
		return MNL_CB_OK;
	return w->fn(&n, w->arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_neigh_dump(struct nl *nl, int family, int ifindex, nl_neigh_fn fn, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct neigh_walk w = { .fn = fn, .arg = arg, .family = family, .ifindex = ifindex };
	int rc;

	for (int tries = 0; tries < 5; tries++) {
		struct nlmsghdr *nlh = nl_msg_init(buf, RTM_GETNEIGH, 0);
		struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

		ndm->ndm_family = (uint8_t)family;
		if (family != AF_BRIDGE)
			mnl_attr_put_u32(nlh, NDA_IFINDEX, (uint32_t)ifindex);
		rc = nl_dump(nl, nlh, neigh_cb, &w);
		if (rc != -EINTR)
			break;
	}
	return rc;
}
