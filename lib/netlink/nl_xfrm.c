/* nl_xfrm.c - XFRM policies: put, delete, dump; and a probe for ESP. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/xfrm.h>
#include <stdio.h>
#include <string.h>

#include "netlink/xfrm.h"

struct nl *xfrm_open(void)
{
	return nl_open_proto(NETLINK_XFRM);
}

static void addr_out(const struct ipaddr *a, xfrm_address_t *x)
{
	memset(x, 0, sizeof(*x));
	memcpy(&x->a4, &a->v4, 4);
}

static void addr_in(const xfrm_address_t *x, struct ipaddr *a)
{
	*a = (struct ipaddr){ .family = AF_INET };
	memcpy(&a->v4, &x->a4, 4);
}

static void selector(const struct xfrm_pol *p, struct xfrm_selector *s)
{
	memset(s, 0, sizeof(*s));
	addr_out(&p->src.addr, &s->saddr);
	addr_out(&p->dst.addr, &s->daddr);
	s->prefixlen_s = p->src.len;
	s->prefixlen_d = p->dst.len;
	s->family = AF_INET;
}

int xfrm_policy_put(struct nl *nl, const struct xfrm_pol *p)
{
	char buf[MNL_SOCKET_BUFFER_SIZE]; /* what nl_msg_init zeroes */
	struct nlmsghdr *nlh = nl_msg_init(buf, XFRM_MSG_UPDPOLICY, NLM_F_CREATE);
	struct xfrm_userpolicy_info *pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));
	struct xfrm_user_tmpl t = { 0 };

	selector(p, &pi->sel);
	pi->lft.soft_byte_limit = pi->lft.hard_byte_limit = XFRM_INF;
	pi->lft.soft_packet_limit = pi->lft.hard_packet_limit = XFRM_INF;
	pi->dir = p->dir;
	pi->action = XFRM_POLICY_ALLOW;
	pi->share = XFRM_SHARE_ANY;
	addr_out(&p->tdst, &t.id.daddr);
	t.id.proto = IPPROTO_ESP;
	t.family = AF_INET;
	addr_out(&p->tsrc, &t.saddr);
	t.reqid = p->reqid;
	t.mode = XFRM_MODE_TUNNEL;
	t.aalgos = t.ealgos = t.calgos = ~0u;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
	return nl_request(nl, nlh, NULL, NULL);
}

int xfrm_policy_del(struct nl *nl, const struct xfrm_pol *p)
{
	char buf[MNL_SOCKET_BUFFER_SIZE]; /* what nl_msg_init zeroes */
	struct nlmsghdr *nlh = nl_msg_init(buf, XFRM_MSG_DELPOLICY, 0);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	int rc;

	selector(p, &id->sel);
	id->dir = p->dir;
	rc = nl_request(nl, nlh, NULL, NULL);
	return rc == -ENOENT || rc == -ESRCH ? 0 : rc;
}

struct dump {
	xfrm_pol_fn fn;
	void *arg;
	int rc;
};

static int on_policy(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	const struct xfrm_userpolicy_info *pi = mnl_nlmsg_get_payload(nlh);
	struct xfrm_pol p = { 0 };
	const struct nlattr *a;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*pi) || pi->sel.family != AF_INET)
		return MNL_CB_OK;
	addr_in(&pi->sel.saddr, &p.src.addr);
	addr_in(&pi->sel.daddr, &p.dst.addr);
	p.src.len = pi->sel.prefixlen_s;
	p.dst.len = pi->sel.prefixlen_d;
	p.dir = pi->dir;
	p.priority = pi->priority;
	p.action = pi->action;
	mnl_attr_for_each(a, nlh, sizeof(*pi)) {
		const struct xfrm_user_tmpl *t = mnl_attr_get_payload(a);

		if (mnl_attr_get_type(a) == XFRMA_POLICY_TYPE) {
			const struct xfrm_userpolicy_type *ty = mnl_attr_get_payload(a);

			if (mnl_attr_get_payload_len(a) >= sizeof(*ty) &&
			    ty->type != XFRM_POLICY_TYPE_MAIN)
				return MNL_CB_OK;
		}
		if (mnl_attr_get_type(a) != XFRMA_TMPL)
			continue;
		p.ntmpl = (int)(mnl_attr_get_payload_len(a) / sizeof(*t));
		if (p.ntmpl < 1 || t->family != AF_INET)
			continue;
		addr_in(&t->saddr, &p.tsrc);
		addr_in(&t->id.daddr, &p.tdst);
		p.reqid = t->reqid;
		p.tproto = t->id.proto;
		p.tmode = t->mode;
	}
	if (d->fn(&p, d->arg) < 0) {
		d->rc = -ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int xfrm_policy_dump(struct nl *nl, xfrm_pol_fn fn, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE]; /* what nl_msg_init zeroes */
	struct dump d = { .fn = fn, .arg = arg };
	struct nlmsghdr *nlh = nl_msg_init(buf, XFRM_MSG_GETPOLICY, 0);
	int rc;

	mnl_nlmsg_put_extra_header(nlh, sizeof(struct xfrm_userpolicy_id));
	rc = nl_dump(nl, nlh, on_policy, &d);
	return d.rc ? d.rc : rc;
}

int xfrm_esp_probe(struct nl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE]; /* what nl_msg_init zeroes */
	struct nlmsghdr *nlh = nl_msg_init(buf, XFRM_MSG_NEWSA, NLM_F_CREATE | NLM_F_EXCL);
	struct xfrm_usersa_info *sa = mnl_nlmsg_put_extra_header(nlh, sizeof(*sa));
	/* AES takes 16, 24 or 32 bytes of key: one byte fails in ESP's own setup,
	 * after the kernel looked ESP up (EPROTONOSUPPORT when it is missing). */
	char alg[sizeof(struct xfrm_algo) + 1] = { 0 };
	struct xfrm_algo *a = (struct xfrm_algo *)alg;
	int rc;

	sa->id.daddr.a4 = htonl(0xc0000202); /* 192.0.2.2 */
	sa->saddr.a4 = htonl(0xc0000201);
	sa->id.spi = htonl(0x4c00ffff);
	sa->id.proto = IPPROTO_ESP;
	sa->family = AF_INET;
	sa->mode = XFRM_MODE_TUNNEL;
	sa->lft.soft_byte_limit = sa->lft.hard_byte_limit = XFRM_INF;
	sa->lft.soft_packet_limit = sa->lft.hard_packet_limit = XFRM_INF;
	snprintf(a->alg_name, sizeof(a->alg_name), "cbc(aes)");
	a->alg_key_len = 8;
	mnl_attr_put(nlh, XFRMA_ALG_CRYPT, sizeof(alg), alg);
	rc = nl_request(nl, nlh, NULL, NULL);
	if (rc == 0) {
		/* It took the key after all: take the SA out again. */
		struct nlmsghdr *d = nl_msg_init(buf, XFRM_MSG_DELSA, 0);
		struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(d, sizeof(*id));

		id->daddr.a4 = htonl(0xc0000202);
		id->spi = htonl(0x4c00ffff);
		id->family = AF_INET;
		id->proto = IPPROTO_ESP;
		nl_request(nl, d, NULL, NULL);
		return 0;
	}
	return rc == -EPROTONOSUPPORT ? rc : rc == -EINVAL ? 0 : rc;
}
