/* lib/wg: the kernel's WG_CMD_SET_DEVICE / GET_DEVICE / CTRL_CMD_GETFAMILY
 * messages against linux/wireguard.h's attribute layout, the userspace API
 * text both ways, the X25519 public key and the key file. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hex.h"
#include "wg/wg.h"
#include "wg/wg_run.h"
#include "tap.h"

static void key_of(const char *hex, uint8_t k[WG_KEY_LEN])
{
	for (int i = 0; i < WG_KEY_LEN; i++)
		k[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
}

static void sample(struct wg_device *d)
{
	struct wg_peer *p;

	memset(d, 0, sizeof(*d));
	memset(d->priv, 0x11, WG_KEY_LEN);
	d->has_priv = true;
	d->port = 51820;
	d->replace_peers = true;
	p = wg_device_add_peer(d);
	need(p);
	memset(p->pub, 0x22, WG_KEY_LEN);
	memset(p->psk, 0x33, WG_KEY_LEN);
	p->has_psk = true;
	addr_parse("192.0.2.2", &p->endpoint);
	p->endpoint_port = 51821;
	p->keepalive = 25;
	prefix_parse("100.64.2.0/24", &p->allowed[0]);
	prefix_parse("2001:db8:1::/64", &p->allowed[1]);
	p->n_allowed = 2;
	p->replace_allowed = true;
	p = wg_device_add_peer(d);
	memset(p->pub, 0x44, WG_KEY_LEN);
	p->remove = true;
}

static const struct nlattr *attr(const struct nlattr *nest, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest)
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}

static void genl_set(void)
{
	static char buf[8192];
	struct wg_device d, back = { 0 };
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	const struct nlattr *a, *peers = NULL, *p1 = NULL, *p2 = NULL, *ips, *ip;
	const struct sockaddr_in *sa;
	uint8_t k[WG_KEY_LEN];
	int n = 0;
	bool name = false, priv = false, port = false, flags = false;

	sample(&d);
	nlh = wg_genl_build_set(buf, sizeof(buf), 0x1234, "flannel-wg", &d);
	ok(nlh != NULL, "WG_CMD_SET_DEVICE built");
	g = mnl_nlmsg_get_payload(nlh);
	ok(nlh->nlmsg_type == 0x1234 && (nlh->nlmsg_flags & (NLM_F_REQUEST | NLM_F_ACK)) ==
	   (NLM_F_REQUEST | NLM_F_ACK) && !(nlh->nlmsg_flags & NLM_F_DUMP),
	   "to the resolved family, request with ack");
	ok(g->cmd == WG_CMD_SET_DEVICE && g->version == WG_GENL_VERSION, "cmd SET_DEVICE, version 1");
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		switch (mnl_attr_get_type(a)) {
		case WGDEVICE_A_IFNAME: name = !strcmp(mnl_attr_get_str(a), "flannel-wg"); break;
		case WGDEVICE_A_PRIVATE_KEY:
			memset(k, 0x11, sizeof(k));
			priv = mnl_attr_get_payload_len(a) == 32 && !memcmp(mnl_attr_get_payload(a), k, 32);
			break;
		case WGDEVICE_A_LISTEN_PORT: port = mnl_attr_get_u16(a) == 51820; break;
		case WGDEVICE_A_FLAGS: flags = mnl_attr_get_u32(a) == WGDEVICE_F_REPLACE_PEERS; break;
		case WGDEVICE_A_PEERS: peers = a; break;
		}
	}
	ok(name && priv && port && flags, "IFNAME, PRIVATE_KEY (32), LISTEN_PORT (u16), FLAGS");
	ok(peers && (peers->nla_type & NLA_F_NESTED), "PEERS is a nested attribute");
	if (!peers)
		return;
	mnl_attr_for_each_nested(a, peers) {
		if (n == 0)
			p1 = a;
		else if (n == 1)
			p2 = a;
		n++;
	}
	is_int(n, 2, "two peers in PEERS");
	memset(k, 0x22, sizeof(k));
	ok(p1 && (a = attr(p1, WGPEER_A_PUBLIC_KEY)) && !memcmp(mnl_attr_get_payload(a), k, 32),
	   "peer 1: PUBLIC_KEY");
	ok(p1 && (a = attr(p1, WGPEER_A_FLAGS)) &&
	   mnl_attr_get_u32(a) == WGPEER_F_REPLACE_ALLOWEDIPS, "peer 1: FLAGS replace-allowed-ips");
	ok(p1 && (a = attr(p1, WGPEER_A_PRESHARED_KEY)) && mnl_attr_get_payload_len(a) == 32,
	   "peer 1: PRESHARED_KEY");
	sa = p1 && (a = attr(p1, WGPEER_A_ENDPOINT)) &&
		     mnl_attr_get_payload_len(a) == sizeof(struct sockaddr_in) ?
		     mnl_attr_get_payload(a) : NULL;
	ok(sa && sa->sin_family == AF_INET && sa->sin_port == htons(51821) &&
	   sa->sin_addr.s_addr == htonl(0xc0000202), "peer 1: ENDPOINT a sockaddr_in, port in network order");
	ok(p1 && (a = attr(p1, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL)) && mnl_attr_get_u16(a) == 25,
	   "peer 1: PERSISTENT_KEEPALIVE_INTERVAL (u16)");
	ips = p1 ? attr(p1, WGPEER_A_ALLOWEDIPS) : NULL;
	n = 0;
	if (ips)
		mnl_attr_for_each_nested(ip, ips) {
			const struct nlattr *f = attr(ip, WGALLOWEDIP_A_FAMILY),
					    *x = attr(ip, WGALLOWEDIP_A_IPADDR),
					    *m = attr(ip, WGALLOWEDIP_A_CIDR_MASK);

			if (n == 0)
				ok(f && mnl_attr_get_u16(f) == AF_INET && x &&
				   mnl_attr_get_payload_len(x) == 4 && m && mnl_attr_get_u8(m) == 24,
				   "allowed IP 1: FAMILY AF_INET, IPADDR 4 bytes, CIDR_MASK 24");
			else
				ok(f && mnl_attr_get_u16(f) == AF_INET6 && x &&
				   mnl_attr_get_payload_len(x) == 16 && m && mnl_attr_get_u8(m) == 64,
				   "allowed IP 2: FAMILY AF_INET6, IPADDR 16 bytes, CIDR_MASK 64");
			n++;
		}
	is_int(n, 2, "two allowed IPs");
	ok(p2 && (a = attr(p2, WGPEER_A_FLAGS)) && mnl_attr_get_u32(a) == WGPEER_F_REMOVE_ME &&
	   !attr(p2, WGPEER_A_ENDPOINT) && !attr(p2, WGPEER_A_ALLOWEDIPS),
	   "peer 2: REMOVE_ME and nothing else");
	/* What GET_DEVICE answers has the same layout: read it back. */
	ok(wg_genl_parse_device(nlh, &back) == 0 && back.n_peers == 2 && back.port == 51820 &&
	   back.has_priv && back.peers[0].n_allowed == 2 && back.peers[0].keepalive == 25 &&
	   back.peers[0].endpoint_port == 51821 &&
	   prefix_equal(&back.peers[0].allowed[1], &d.peers[0].allowed[1]),
	   "parsed back: port, key, peers, allowed IPs, keepalive, endpoint");
	ok(wg_genl_build_set(buf, 200, 0x1234, "flannel-wg", &d) == NULL,
	   "a message that does not fit is refused, not truncated");
	wg_device_clear(&d);
	wg_device_clear(&back);
}

static void genl_other(void)
{
	char buf[512];
	struct nlmsghdr *nlh = wg_genl_build_getfamily(buf, sizeof(buf));
	struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	bool name = false;

	ok(nlh->nlmsg_type == GENL_ID_CTRL && g->cmd == CTRL_CMD_GETFAMILY,
	   "CTRL_CMD_GETFAMILY to GENL_ID_CTRL");
	mnl_attr_for_each(a, nlh, sizeof(*g))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_NAME)
			name = !strcmp(mnl_attr_get_str(a), "wireguard");
	ok(name, "CTRL_ATTR_FAMILY_NAME wireguard");
	nlh = wg_genl_build_get(buf, sizeof(buf), 0x1234, "flannel-wg");
	g = mnl_nlmsg_get_payload(nlh);
	ok(g->cmd == WG_CMD_GET_DEVICE && (nlh->nlmsg_flags & NLM_F_DUMP),
	   "GET_DEVICE is a dump");
}

static void uapi(void)
{
	struct wg_device d, back = { 0 };
	char *s, err[128];
	int en = 0;
	const char *want_head = "set=1\nprivate_key=1111111111111111111111111111111111111111111111111111111111111111\n"
				"listen_port=51820\nreplace_peers=true\n"
				"public_key=2222222222222222222222222222222222222222222222222222222222222222\n"
				"preshared_key=3333333333333333333333333333333333333333333333333333333333333333\n"
				"endpoint=192.0.2.2:51821\npersistent_keepalive_interval=25\n"
				"replace_allowed_ips=true\nallowed_ip=100.64.2.0/24\n"
				"allowed_ip=2001:db8:1::/64\n"
				"public_key=4444444444444444444444444444444444444444444444444444444444444444\n"
				"remove=true\n\n";
	const char *answer = "private_key=1111111111111111111111111111111111111111111111111111111111111111\n"
			     "listen_port=51820\n"
			     "public_key=2222222222222222222222222222222222222222222222222222222222222222\n"
			     "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
			     "protocol_version=1\nendpoint=[2001:db8::2]:51820\n"
			     "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n"
			     "tx_bytes=100\nrx_bytes=200\npersistent_keepalive_interval=0\n"
			     "allowed_ip=100.64.2.0/24\nerrno=0\n\n";

	sample(&d);
	s = wg_uapi_format_set(&d);
	is_str(s, want_head, "set=1 text: hex keys, endpoint, allowed IPs, remove");
	free(s);
	ok(wg_uapi_parse_get(answer, &back, &en, err, sizeof(err)) == 0 && en == 0, "get=1 answer parsed (%s)", err);
	ok(back.has_priv && back.port == 51820 && back.n_peers == 1 &&
	   back.peers[0].endpoint.family == AF_INET6 && back.peers[0].endpoint_port == 51820 &&
	   back.peers[0].last_handshake == 1700000000 && back.peers[0].tx_bytes == 100 &&
	   back.peers[0].n_allowed == 1, "key, port, a peer with a v6 endpoint, handshake, bytes");
	wg_device_clear(&back);
	ok(wg_uapi_parse_get("listen_port=1\n", &back, &en, err, sizeof(err)) < 0 &&
	   strstr(err, "errno"), "an answer without errno= is refused (%s)", err);
	wg_device_clear(&back);
	ok(wg_uapi_parse_get("public_key=zz\nerrno=0\n", &back, &en, err, sizeof(err)) < 0,
	   "a bad key is refused (%s)", err);
	wg_device_clear(&back);
	wg_device_clear(&d);
}

static void keys(void)
{
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], want[WG_KEY_LEN], again[WG_KEY_LEN];
	char dir[] = "/tmp/test_wg.XXXXXX", path[128], b64[WG_KEY_B64_LEN + 1], err[256];
	struct stat st;
	bool created;
	FILE *f;

	/* RFC 7748 section 6.1, Alice. */
	key_of("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv);
	key_of("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want);
	ok(wg_key_public(priv, pub) == 0 && !memcmp(pub, want, 32), "X25519 public key (RFC 7748)");
	wg_key_to_base64(pub, b64);
	is_int((int)strlen(b64), 44, "base64: 44 characters");
	ok(wg_key_from_base64(b64, again) == 0 && !memcmp(again, pub, 32), "base64 both ways");
	ok(wg_key_from_base64("c2hvcnQ=", again) < 0, "a short key is refused");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/a/b/wgkey", dir);
	ok(wg_key_load(path, priv, &created, err, sizeof(err)) == 0 && created, "made (%s)", err);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0400 && st.st_size == 44,
	   "mode 0400, 44 bytes, no newline");
	ok(wg_key_load(path, again, &created, err, sizeof(err)) == 0 && !created &&
	   !memcmp(priv, again, 32), "reused");
	unlink(path);
	f = fopen(path, "w");
	if (f) {
		wg_key_to_base64(want, b64);
		fprintf(f, "%s\n", b64);
		fclose(f);
	}
	ok(wg_key_load(path, again, &created, err, sizeof(err)) == 0 && !memcmp(again, want, 32),
	   "a file from wg genkey (with its newline) is read");
	f = fopen(path, "w");
	if (f) {
		fputs("not a key\n", f);
		fclose(f);
	}
	ok(wg_key_load(path, again, &created, err, sizeof(err)) < 0 && strstr(err, path),
	   "garbage is refused, naming the file (%s)", err);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	rmdir(dir);
}

/* The overhead per device and Mode, and the Mode names. */
static void modes(void)
{
	enum wg_mode m = WG_MODE_AUTO;

	is_int(wg_overhead(WG_MODE_SEPARATE, true, false), 60, "separate, flannel-wg: 60");
	is_int(wg_overhead(WG_MODE_SEPARATE, false, true), 80, "separate, flannel-wg-v6: 80");
	is_int(wg_overhead(WG_MODE_SEPARATE, true, true), 80, "separate, the pods of both: 80");
	is_int(wg_overhead(WG_MODE_IPV4, true, true), 60, "ipv4: IPv4 outside, 60");
	is_int(wg_overhead(WG_MODE_IPV6, true, false), 80, "ipv6: IPv6 outside, 80");
	is_int(wg_overhead(WG_MODE_AUTO, true, false), 60, "auto, IPv4 only: 60");
	is_int(wg_overhead(WG_MODE_AUTO, true, true), 80, "auto, dual stack: either, 80");
	ok(wg_mode_parse("ipv6", &m) == 0 && m == WG_MODE_IPV6, "ipv6 parses");
	ok(wg_mode_parse("separate", &m) == 0 && m == WG_MODE_SEPARATE, "separate parses");
	ok(wg_mode_parse("IPv6", &m) < 0 && wg_mode_parse("", &m) < 0, "no other names");
}

int main(void)
{
	genl_set();
	genl_other();
	uapi();
	keys();
	modes();
	return tap_done();
}
