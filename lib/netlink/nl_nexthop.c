/* nl_nexthop.c - nexthop objects (kernel >= 5.3): batched writes and dumps. */
#include <errno.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink/nl.h"

static void nexthop_build(struct nlmsghdr *nlh, enum nl_op op, const struct nl_nexthop *nh)
{
	struct nhmsg *nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));

	mnl_attr_put_u32(nlh, NHA_ID, nh->id);
	/* A delete names the id only: the kernel refuses other header fields. */
	if (op == NL_DELETE)
		return;
	nhm->nh_family = (uint8_t)nh->family;
	nhm->nh_protocol = nh->protocol;
	nhm->nh_flags = nh->flags;
	if (nh->gw.family)
		nl_put_addr(nlh, NHA_GATEWAY, &nh->gw);
	mnl_attr_put_u32(nlh, NHA_OIF, nh->oif);
}

int nl_nexthop_queue(struct nl *nl, enum nl_op op, const struct nl_nexthop *nh,
		     const void *cookie, size_t cookie_len)
{
	void *c;
	struct nlmsghdr *nlh = nl_batch_msg(nl, op == NL_DELETE ? RTM_DELNEXTHOP : RTM_NEWNEXTHOP,
					    op, &c);

	if (!nlh)
		return -1;
	nexthop_build(nlh, op, nh);
	if (c && cookie)
		memcpy(c, cookie, cookie_len);
	return 0;
}

int nl_nexthop_parse(const struct nlmsghdr *nlh, struct nl_nexthop *nh)
{
	const struct nhmsg *nhm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	memset(nh, 0, sizeof(*nh));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*nhm))
		return -1;
	nh->family = nhm->nh_family;
	nh->protocol = nhm->nh_protocol;
	nh->flags = (uint8_t)nhm->nh_flags;
	mnl_attr_for_each(attr, nlh, sizeof(*nhm)) {
		switch (mnl_attr_get_type(attr)) {
		case NHA_ID:
			nh->id = mnl_attr_get_u32(attr);
			break;
		case NHA_OIF:
			nh->oif = mnl_attr_get_u32(attr);
			break;
		case NHA_GATEWAY:
			nl_get_addr(attr, nh->family, &nh->gw);
			break;
		}
	}
	return 0;
}

struct nh_walk {
	nl_nexthop_fn fn;
	void *arg;
};

static int nexthop_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nh_walk *w = data;
	struct nl_nexthop nh;

	if (nl_nexthop_parse(nlh, &nh) < 0)
		return MNL_CB_OK;
	return w->fn(&nh, w->arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_nexthop_dump(struct nl *nl, nl_nexthop_fn fn, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nh_walk w = { .fn = fn, .arg = arg };
	int rc;

	for (int tries = 0; tries < 5; tries++) {
		struct nlmsghdr *nlh = nl_msg_init(buf, RTM_GETNEXTHOP, 0);
		struct nhmsg *nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));

		nhm->nh_family = AF_UNSPEC;
		rc = nl_dump(nl, nlh, nexthop_cb, &w);
		if (rc != -EINTR)
			break;
	}
	return rc;
}
