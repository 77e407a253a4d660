/* wg_genl.c - the kernel's WireGuard: generic netlink family "wireguard"
 * (linux/wireguard.h), WG_CMD_GET_DEVICE (a dump) and WG_CMD_SET_DEVICE,
 * with libmnl.  The family id is resolved with CTRL_CMD_GETFAMILY. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wg/wg.h"

/* Peers per WG_CMD_SET_DEVICE message: each takes about 200 bytes. */
#define PEERS_PER_MSG 64
#define GENL_BUF 32768

static struct nlmsghdr *genl_init(char *buf, size_t len, uint16_t type, uint16_t flags,
				  uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	if (len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*g)))
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

struct nlmsghdr *wg_genl_build_getfamily(char *buf, size_t len)
{
	struct nlmsghdr *nlh = genl_init(buf, len, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK,
					 CTRL_CMD_GETFAMILY, 1);

	if (nlh && !mnl_attr_put_strz_check(nlh, len, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME))
		return NULL;
	return nlh;
}

struct nlmsghdr *wg_genl_build_get(char *buf, size_t len, uint16_t fam, const char *dev)
{
	struct nlmsghdr *nlh = genl_init(buf, len, fam, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
					 WG_CMD_GET_DEVICE, WG_GENL_VERSION);

	if (nlh && !mnl_attr_put_strz_check(nlh, len, WGDEVICE_A_IFNAME, dev))
		return NULL;
	return nlh;
}

static bool put_allowed(struct nlmsghdr *nlh, size_t len, const struct prefix *p)
{
	struct nlattr *n = mnl_attr_nest_start_check(nlh, len, 0);
	bool v6 = p->addr.family == AF_INET6;

	if (!n || !mnl_attr_put_u16_check(nlh, len, WGALLOWEDIP_A_FAMILY, (uint16_t)p->addr.family) ||
	    !mnl_attr_put_check(nlh, len, WGALLOWEDIP_A_IPADDR, v6 ? 16 : 4,
				v6 ? (const void *)&p->addr.v6 : (const void *)&p->addr.v4) ||
	    !mnl_attr_put_u8_check(nlh, len, WGALLOWEDIP_A_CIDR_MASK, (uint8_t)p->len))
		return false;
	mnl_attr_nest_end(nlh, n);
	return true;
}

static bool put_peer(struct nlmsghdr *nlh, size_t len, const struct wg_peer *p)
{
	struct nlattr *n = mnl_attr_nest_start_check(nlh, len, 0), *ips;
	uint32_t flags = (p->remove ? WGPEER_F_REMOVE_ME : 0) |
			 (p->replace_allowed ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);

	if (!n || !mnl_attr_put_check(nlh, len, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->pub) ||
	    !mnl_attr_put_u32_check(nlh, len, WGPEER_A_FLAGS, flags))
		return false;
	if (p->remove) {
		mnl_attr_nest_end(nlh, n);
		return true;
	}
	if (p->has_psk && !mnl_attr_put_check(nlh, len, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, p->psk))
		return false;
	if (p->endpoint.family == AF_INET) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->endpoint_port),
					  .sin_addr = p->endpoint.v4 };

		if (!mnl_attr_put_check(nlh, len, WGPEER_A_ENDPOINT, sizeof(sa), &sa))
			return false;
	} else if (p->endpoint.family == AF_INET6) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
					   .sin6_port = htons(p->endpoint_port),
					   .sin6_addr = p->endpoint.v6 };

		if (!mnl_attr_put_check(nlh, len, WGPEER_A_ENDPOINT, sizeof(sa), &sa))
			return false;
	}
	if (!mnl_attr_put_u16_check(nlh, len, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->keepalive))
		return false;
	ips = mnl_attr_nest_start_check(nlh, len, WGPEER_A_ALLOWEDIPS);
	if (!ips)
		return false;
	for (int i = 0; i < p->n_allowed; i++)
		if (!put_allowed(nlh, len, &p->allowed[i]))
			return false;
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, n);
	return true;
}

/* One message: the device's keys when first, and peers [from, to). */
static struct nlmsghdr *build_set(char *buf, size_t len, uint16_t fam, const char *dev,
				  const struct wg_device *d, bool first, size_t from, size_t to)
{
	struct nlmsghdr *nlh = genl_init(buf, len, fam, NLM_F_REQUEST | NLM_F_ACK,
					 WG_CMD_SET_DEVICE, WG_GENL_VERSION);
	struct nlattr *peers;

	if (!nlh || !mnl_attr_put_strz_check(nlh, len, WGDEVICE_A_IFNAME, dev))
		return NULL;
	if (first) {
		if (d->has_priv &&
		    !mnl_attr_put_check(nlh, len, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, d->priv))
			return NULL;
		if (d->port && !mnl_attr_put_u16_check(nlh, len, WGDEVICE_A_LISTEN_PORT, d->port))
			return NULL;
		if (d->replace_peers &&
		    !mnl_attr_put_u32_check(nlh, len, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS))
			return NULL;
	}
	if (from == to)
		return nlh;
	peers = mnl_attr_nest_start_check(nlh, len, WGDEVICE_A_PEERS);
	if (!peers)
		return NULL;
	for (size_t i = from; i < to; i++)
		if (!put_peer(nlh, len, &d->peers[i]))
			return NULL;
	mnl_attr_nest_end(nlh, peers);
	return nlh;
}

struct nlmsghdr *wg_genl_build_set(char *buf, size_t len, uint16_t fam, const char *dev,
				   const struct wg_device *d)
{
	return build_set(buf, len, fam, dev, d, true, 0, d->n_peers);
}

/* ---- parsing ---- */

static int parse_allowed(const struct nlattr *nest, struct wg_peer *p)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		const struct nlattr *b;
		struct prefix pf = { 0 };
		uint16_t fam = 0;

		mnl_attr_for_each_nested(b, a) {
			switch (mnl_attr_get_type(b)) {
			case WGALLOWEDIP_A_FAMILY: fam = mnl_attr_get_u16(b); break;
			case WGALLOWEDIP_A_CIDR_MASK: pf.len = mnl_attr_get_u8(b); break;
			case WGALLOWEDIP_A_IPADDR:
				if (mnl_attr_get_payload_len(b) == 4)
					memcpy(&pf.addr.v4, mnl_attr_get_payload(b), 4);
				else if (mnl_attr_get_payload_len(b) == 16)
					memcpy(&pf.addr.v6, mnl_attr_get_payload(b), 16);
				else
					return -1;
				break;
			}
		}
		if (fam != AF_INET && fam != AF_INET6)
			return -1;
		pf.addr.family = fam;
		if (p->n_allowed < WG_MAX_ALLOWED)
			p->allowed[p->n_allowed++] = pf;
	}
	return 0;
}

static int parse_peer(const struct nlattr *nest, struct wg_device *out)
{
	const struct nlattr *a, *ips = NULL;
	struct wg_peer *p = NULL, tmp = { 0 };
	bool have_key = false;

	mnl_attr_for_each_nested(a, nest) {
		const void *v = mnl_attr_get_payload(a);
		uint16_t n = mnl_attr_get_payload_len(a);

		switch (mnl_attr_get_type(a)) {
		case WGPEER_A_PUBLIC_KEY:
			if (n != WG_KEY_LEN)
				return -1;
			memcpy(tmp.pub, v, WG_KEY_LEN);
			have_key = true;
			break;
		case WGPEER_A_PRESHARED_KEY:
			if (n == WG_KEY_LEN) {
				memcpy(tmp.psk, v, WG_KEY_LEN);
				tmp.has_psk = true;
			}
			break;
		case WGPEER_A_ENDPOINT:
			if (n == sizeof(struct sockaddr_in)) {
				const struct sockaddr_in *sa = v;

				tmp.endpoint.family = AF_INET;
				tmp.endpoint.v4 = sa->sin_addr;
				tmp.endpoint_port = ntohs(sa->sin_port);
			} else if (n == sizeof(struct sockaddr_in6)) {
				const struct sockaddr_in6 *sa = v;

				tmp.endpoint.family = AF_INET6;
				tmp.endpoint.v6 = sa->sin6_addr;
				tmp.endpoint_port = ntohs(sa->sin6_port);
			}
			break;
		case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
			tmp.keepalive = mnl_attr_get_u16(a);
			break;
		case WGPEER_A_LAST_HANDSHAKE_TIME:
			if (n >= sizeof(int64_t))
				memcpy(&tmp.last_handshake, v, sizeof(int64_t));
			break;
		case WGPEER_A_RX_BYTES: tmp.rx_bytes = mnl_attr_get_u64(a); break;
		case WGPEER_A_TX_BYTES: tmp.tx_bytes = mnl_attr_get_u64(a); break;
		case WGPEER_A_ALLOWEDIPS: ips = a; break;
		}
	}
	if (!have_key)
		return -1;
	/* A dump may split one peer's allowed IPs over two messages. */
	if (out->n_peers && !memcmp(out->peers[out->n_peers - 1].pub, tmp.pub, WG_KEY_LEN) &&
	    !tmp.endpoint.family && !tmp.last_handshake) {
		p = &out->peers[out->n_peers - 1];
	} else {
		p = wg_device_add_peer(out);
		if (!p)
			return -1;
		*p = tmp;
	}
	return ips ? parse_allowed(ips, p) : 0;
}

int wg_genl_parse_device(const struct nlmsghdr *nlh, struct wg_device *out)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_PRIVATE_KEY:
			if (mnl_attr_get_payload_len(a) == WG_KEY_LEN) {
				memcpy(out->priv, mnl_attr_get_payload(a), WG_KEY_LEN);
				out->has_priv = true;
			}
			break;
		case WGDEVICE_A_LISTEN_PORT: out->port = mnl_attr_get_u16(a); break;
		case WGDEVICE_A_PEERS: {
			const struct nlattr *p;

			mnl_attr_for_each_nested(p, a)
				if (parse_peer(p, out) < 0)
					return -1;
			break;
		}
		}
	}
	return 0;
}

/* ---- the socket ---- */

static int talk(struct wg_drv *w, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct mnl_socket *s = w->genl;
	char buf[GENL_BUF] = { 0 };
	static unsigned seq;
	unsigned port;
	ssize_t n;
	int rc;

	if (!seq)
		seq = (unsigned)time(NULL);
	nlh->nlmsg_seq = ++seq;
	port = mnl_socket_get_portid(s);
	if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(s, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, port, cb, data);
		if (rc < 0)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

int wg_genl_open(struct wg_drv *w, char *err, size_t errlen)
{
	char buf[512] = { 0 };
	struct mnl_socket *s = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	int rc;

	if (!s || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "open a generic netlink socket: %s", strerror(errno));
		if (s)
			mnl_socket_close(s);
		return -errno;
	}
	w->genl = s;
	w->family_id = 0;
	rc = talk(w, wg_genl_build_getfamily(buf, sizeof(buf)), family_cb, &w->family_id);
	if (rc < 0 || !w->family_id) {
		snprintf(err, errlen, "resolve the generic netlink family \"%s\": %s", WG_GENL_NAME,
			 rc == -ENOENT || !rc ? "the kernel has no wireguard module" :
						strerror(-rc));
		wg_genl_close(w);
		return rc < 0 ? rc : -ENOENT;
	}
	return 0;
}

void wg_genl_close(struct wg_drv *w)
{
	if (w->genl)
		mnl_socket_close(w->genl);
	w->genl = NULL;
}

static int device_cb(const struct nlmsghdr *nlh, void *data)
{
	return wg_genl_parse_device(nlh, data) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int wg_genl_get(struct wg_drv *w, struct wg_device *out, char *err, size_t errlen)
{
	char buf[512] = { 0 };
	int rc = talk(w, wg_genl_build_get(buf, sizeof(buf), w->family_id, w->dev), device_cb, out);

	if (rc < 0)
		snprintf(err, errlen, "WG_CMD_GET_DEVICE %s: %s", w->dev, strerror(-rc));
	return rc;
}

int wg_genl_set(struct wg_drv *w, const struct wg_device *d, char *err, size_t errlen)
{
	char *buf = malloc(GENL_BUF);
	size_t from = 0;
	int rc = 0;

	if (!buf) {
		snprintf(err, errlen, "WG_CMD_SET_DEVICE %s: out of memory", w->dev);
		return -ENOMEM;
	}
	do {
		size_t to = from + PEERS_PER_MSG < d->n_peers ? from + PEERS_PER_MSG : d->n_peers;
		struct nlmsghdr *nlh = build_set(buf, GENL_BUF, w->family_id, w->dev, d, from == 0,
						 from, to);

		rc = nlh ? talk(w, nlh, NULL, NULL) : -EMSGSIZE;
		from = to;
	} while (rc == 0 && from < d->n_peers);
	explicit_bzero(buf, GENL_BUF);
	free(buf);
	if (rc < 0)
		snprintf(err, errlen, "WG_CMD_SET_DEVICE %s: %s", w->dev, strerror(-rc));
	return rc;
}
