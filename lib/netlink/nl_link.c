/* nl_link.c - links: look up, create a VXLAN or ipip device, set up, delete. */
/* net/if.h before linux/if_tunnel.h, which pulls in linux/if.h. */
#include <net/if.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink/nl.h"

static void parse_vxlan_data(const struct nlattr *data, struct nl_link *l)
{
	const struct nlattr *attr;
	struct nl_vxlan *vx = &l->vxlan;

	l->has_vxlan = true;
	mnl_attr_for_each_nested(attr, data) {
		switch (mnl_attr_get_type(attr)) {
		case IFLA_VXLAN_ID:
			vx->vni = mnl_attr_get_u32(attr);
			break;
		case IFLA_VXLAN_LINK:
			vx->link = mnl_attr_get_u32(attr);
			break;
		case IFLA_VXLAN_LOCAL:
			nl_get_addr(attr, AF_INET, &vx->local);
			break;
		case IFLA_VXLAN_LOCAL6:
			nl_get_addr(attr, AF_INET6, &vx->local);
			break;
		case IFLA_VXLAN_PORT:
			vx->port = ntohs(mnl_attr_get_u16(attr));
			break;
		case IFLA_VXLAN_LEARNING:
			vx->learning = mnl_attr_get_u8(attr);
			break;
		case IFLA_VXLAN_GBP:
			vx->gbp = true;
			break;
		}
	}
}

static void parse_ipip_data(const struct nlattr *data, struct nl_link *l)
{
	const struct nlattr *attr;
	struct nl_ipip *t = &l->ipip;

	l->has_ipip = true;
	mnl_attr_for_each_nested(attr, data) {
		switch (mnl_attr_get_type(attr)) {
		case IFLA_IPTUN_LOCAL:
			nl_get_addr(attr, AF_INET, &t->local);
			break;
		case IFLA_IPTUN_REMOTE:
			nl_get_addr(attr, AF_INET, &t->remote);
			break;
		case IFLA_IPTUN_LINK:
			t->link = mnl_attr_get_u32(attr);
			break;
		}
	}
}

static void parse_linkinfo(const struct nlattr *info, struct nl_link *l)
{
	const struct nlattr *attr, *data = NULL;

	mnl_attr_for_each_nested(attr, info) {
		if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
		    mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
			snprintf(l->kind, sizeof(l->kind), "%.*s",
				 (int)mnl_attr_get_payload_len(attr),
				 (const char *)mnl_attr_get_payload(attr));
		else if (mnl_attr_get_type(attr) == IFLA_INFO_DATA)
			data = attr;
	}
	if (data && strcmp(l->kind, "vxlan") == 0)
		parse_vxlan_data(data, l);
	else if (data && strcmp(l->kind, "ipip") == 0)
		parse_ipip_data(data, l);
}

int nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	memset(l, 0, sizeof(*l));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -1;
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	mnl_attr_for_each(attr, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(attr)) {
		case IFLA_IFNAME:
			snprintf(l->name, sizeof(l->name), "%.*s",
				 (int)mnl_attr_get_payload_len(attr),
				 (const char *)mnl_attr_get_payload(attr));
			break;
		case IFLA_MTU:
			l->mtu = mnl_attr_get_u32(attr);
			break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(attr) == 6)
				memcpy(l->mac, mnl_attr_get_payload(attr), 6);
			break;
		case IFLA_LINKINFO:
			parse_linkinfo(attr, l);
			break;
		}
	}
	return 0;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	return nl_link_parse(nlh, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int nl_link_get(struct nl *nl, const char *name, int ifindex, struct nl_link *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_GETLINK, NLM_F_REQUEST);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int rc;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name) {
		if (strlen(name) >= IFNAMSIZ)
			return -ENODEV;
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	}
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	memset(out, 0, sizeof(*out));
	rc = nl_request(nl, nlh, link_cb, out);
	return rc == -ENOENT ? -ENODEV : rc;
}

int nl_vxlan_create(struct nl *nl, const char *name, const struct nl_vxlan *vx, unsigned mtu,
		    const uint8_t mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_NEWLINK, nl_op_flags(NL_CREATE));
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info, *data;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	/* Upstream's devices have txqueuelen 0: its netlink library sends a zero TxQLen. */
	mnl_attr_put_u32(nlh, IFLA_TXQLEN, 0);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "vxlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_VXLAN_ID, vx->vni);
	if (vx->link)
		mnl_attr_put_u32(nlh, IFLA_VXLAN_LINK, vx->link);
	if (vx->local.family)
		nl_put_addr(nlh, vx->local.family == AF_INET6 ? IFLA_VXLAN_LOCAL6 :
								 IFLA_VXLAN_LOCAL, &vx->local);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_TTL, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_TOS, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_LEARNING, vx->learning);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_PROXY, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_RSC, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_L2MISS, 0);
	mnl_attr_put_u8(nlh, IFLA_VXLAN_L3MISS, 0);
	if (vx->gbp)
		mnl_attr_put(nlh, IFLA_VXLAN_GBP, 0, NULL);
	if (vx->port)
		mnl_attr_put_u16(nlh, IFLA_VXLAN_PORT, htons(vx->port));
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_request(nl, nlh, NULL, NULL);
}

int nl_ipip_create(struct nl *nl, const char *name, const struct ipaddr *local, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_NEWLINK, nl_op_flags(NL_CREATE));
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info, *data;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u32(nlh, IFLA_TXQLEN, 0);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "ipip");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* No remote: one device for every peer, the route's gateway is the far end. */
	if (local && local->family == AF_INET)
		nl_put_addr(nlh, IFLA_IPTUN_LOCAL, local);
	/* TTL 0 inherits the inner TTL; PMTUDISC 0 with it copies the inner DF. */
	mnl_attr_put_u8(nlh, IFLA_IPTUN_TTL, 0);
	mnl_attr_put_u8(nlh, IFLA_IPTUN_TOS, 0);
	mnl_attr_put_u8(nlh, IFLA_IPTUN_PMTUDISC, 0);
	/* Upstream's library sends these zeros too; PROTO 0 is "any" (ipip and mplsip). */
	mnl_attr_put_u16(nlh, IFLA_IPTUN_ENCAP_TYPE, 0);
	mnl_attr_put_u16(nlh, IFLA_IPTUN_ENCAP_FLAGS, 0);
	mnl_attr_put_u16(nlh, IFLA_IPTUN_ENCAP_SPORT, 0);
	mnl_attr_put_u16(nlh, IFLA_IPTUN_ENCAP_DPORT, 0);
	mnl_attr_put_u8(nlh, IFLA_IPTUN_PROTO, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_request(nl, nlh, NULL, NULL);
}

int nl_link_delete(struct nl *nl, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_DELLINK, NLM_F_REQUEST);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int rc;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	rc = nl_request(nl, nlh, NULL, NULL);
	return rc == -ENODEV ? 0 : rc;
}

/* RTM_NEWLINK on an existing link: flags to set, and an MTU (0: kept). */
static int link_change(struct nl *nl, int ifindex, unsigned flags, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_NEWLINK, NLM_F_REQUEST);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = flags;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_request(nl, nlh, NULL, NULL);
}

int nl_link_set_up(struct nl *nl, int ifindex)
{
	return link_change(nl, ifindex, IFF_UP, 0);
}

int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned mtu)
{
	return link_change(nl, ifindex, 0, mtu);
}
