/* nl_route.c - routes: batched writes, dumps by protocol, lookups. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink/nl.h"

static void route_build(struct nlmsghdr *nlh, enum nl_op op, const struct nl_route *r)
{
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)r->dst.addr.family;
	rtm->rtm_dst_len = (uint8_t)r->dst.len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = r->protocol;
	rtm->rtm_scope = r->scope;
	rtm->rtm_type = r->type ? r->type : RTN_UNICAST;
	rtm->rtm_flags = r->flags;
	if (op == NL_DELETE)
		rtm->rtm_scope = RT_SCOPE_NOWHERE; /* match any scope */
	nl_put_addr(nlh, RTA_DST, &r->dst.addr);
	if (r->table && r->table != RT_TABLE_MAIN)
		mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	if (r->priority)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->priority);
	if (r->nhid) {
		mnl_attr_put_u32(nlh, RTA_NH_ID, r->nhid);
		return;
	}
	if (r->gw.family)
		nl_put_addr(nlh, RTA_GATEWAY, &r->gw);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, r->oif);
}

int nl_route_queue(struct nl *nl, enum nl_op op, const struct nl_route *r, const void *cookie,
		   size_t cookie_len)
{
	void *c;
	struct nlmsghdr *nlh = nl_batch_msg(nl, op == NL_DELETE ? RTM_DELROUTE : RTM_NEWROUTE,
					    op, &c);

	if (!nlh)
		return -1;
	route_build(nlh, op, r);
	if (c && cookie)
		memcpy(c, cookie, cookie_len);
	return 0;
}

int nl_route_change(struct nl *nl, enum nl_op op, const struct nl_route *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, op == NL_DELETE ? RTM_DELROUTE : RTM_NEWROUTE,
					   nl_op_flags(op));
	int rc;

	route_build(nlh, op, r);
	rc = nl_request(nl, nlh, NULL, NULL);
	return op == NL_DELETE && rc == -ESRCH ? 0 : rc;
}

int nl_route_parse(const struct nlmsghdr *nlh, struct nl_route *r)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	int fam;

	memset(r, 0, sizeof(*r));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -1;
	fam = rtm->rtm_family;
	if (fam != AF_INET && fam != AF_INET6)
		return -1;
	r->dst.addr.family = fam;
	r->dst.len = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	r->scope = rtm->rtm_scope;
	r->type = rtm->rtm_type;
	r->flags = (uint8_t)rtm->rtm_flags;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(attr)) {
		case RTA_DST:
			nl_get_addr(attr, fam, &r->dst.addr);
			break;
		case RTA_GATEWAY:
			nl_get_addr(attr, fam, &r->gw);
			break;
		case RTA_OIF:
			r->oif = mnl_attr_get_u32(attr);
			break;
		case RTA_NH_ID:
			r->nhid = mnl_attr_get_u32(attr);
			break;
		case RTA_TABLE:
			r->table = mnl_attr_get_u32(attr);
			break;
		case RTA_PRIORITY:
			r->priority = mnl_attr_get_u32(attr);
			break;
		}
	}
	return 0;
}

struct route_walk {
	nl_route_fn fn;
	void *arg;
	uint8_t protocol;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_walk *w = data;
	struct nl_route r;

	if (nl_route_parse(nlh, &r) < 0)
		return MNL_CB_OK;
	if (r.table != RT_TABLE_MAIN || r.type != RTN_UNICAST)
		return MNL_CB_OK;
	if (w->protocol && r.protocol != w->protocol)
		return MNL_CB_OK;
	return w->fn(&r, w->arg) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_route_dump(struct nl *nl, int family, uint8_t protocol, nl_route_fn fn, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct route_walk w = { .fn = fn, .arg = arg, .protocol = protocol };
	int rc;

	for (int tries = 0; tries < 5; tries++) {
		struct nlmsghdr *nlh = nl_msg_init(buf, RTM_GETROUTE, 0);
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

		rtm->rtm_family = (uint8_t)family;
		rc = nl_dump(nl, nlh, route_cb, &w);
		if (rc != -EINTR)
			break;
	}
	return rc;
}

static int route_get_cb(const struct nlmsghdr *nlh, void *data)
{
	return nl_route_parse(nlh, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_route_get(struct nl *nl, const struct ipaddr *dst, struct nl_route *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_GETROUTE, NLM_F_REQUEST);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)dst->family;
	rtm->rtm_dst_len = (uint8_t)addr_bits(dst->family);
	nl_put_addr(nlh, RTA_DST, dst);
	memset(out, 0, sizeof(*out));
	return nl_request(nl, nlh, route_get_cb, out);
}
