/* The pieces of the netlink layer that need no kernel: MAC text, the hash
 * table behind the applier, message building and parsing round trips. */
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/vxlan.h"
#include "base/htab.h"
#include "base/mem.h"
#include "netlink/nl.h"
#include "tap.h"

struct rec {
	unsigned key;
	unsigned val;
};

static void test_mac(void)
{
	uint8_t m[6], p[5];
	unsigned n;
	char buf[20];

	ok(mac_parse("aa:BB:cc:00:01:ff", m) == 0, "MAC with mixed case parses");
	is_str(mac_format(m, buf, sizeof(buf)), "aa:bb:cc:00:01:ff", "MAC prints lowercase");
	ok(mac_parse("aa:bb:cc:00:01", m) < 0, "short MAC refused");
	ok(mac_parse("aa:bb:cc:00:01:ff:", m) < 0, "long MAC refused");
	ok(mac_parse(" a:bb:cc:00:01:ff", m) < 0, "space refused");
	ok(mac_parse("+a:bb:cc:00:01:ff", m) < 0, "sign refused");
	ok(mac_parse("aa-bb-cc-00-01-ff", m) < 0, "dashes refused in a MAC");
	ok(mac_prefix_parse("0E-2A", p, &n) == 0 && n == 2 && p[0] == 0x0e && p[1] == 0x2a,
	   "MacPrefix 0E-2A");
	ok(mac_prefix_parse("0e:2a:01", p, &n) == 0 && n == 3, "MacPrefix with colons");
	ok(mac_prefix_parse("0e2a", p, &n) < 0, "MacPrefix without separators refused");
	ok(mac_prefix_parse("0e:2a:01:02:03:04", p, &n) < 0, "six-byte prefix refused");
}

static void test_htab(void)
{
	struct htab h;
	struct rec *r;
	size_t it = 0, seen = 0;
	int bad = 0;

	htab_init(&h, sizeof(struct rec), sizeof(unsigned));
	for (unsigned i = 0; i < 5000; i++) {
		r = htab_put(&h, &i, NULL);
		need(r);
		r->val = i * 3;
	}
	is_int(h.count, 5000, "5000 records");
	for (unsigned i = 0; i < 5000; i += 2)
		htab_del(&h, &i);
	is_int(h.count, 2500, "half deleted");
	for (unsigned i = 0; i < 5000; i++) {
		r = htab_get(&h, &i);
		if ((i % 2 == 0) != (r == NULL) || (r && r->val != i * 3))
			bad++;
	}
	is_int(bad, 0, "every survivor found with its value, no deleted one");
	while ((r = htab_next(&h, &it)) != NULL)
		seen++;
	is_int(seen, 2500, "iteration visits every record once");
	fl_alloc_fail_at(1);
	{
		unsigned k = 900000;
		size_t before = h.count;

		/* Force a grow: fill to the threshold, expect a clean NULL. */
		for (unsigned i = 0; i < 100000 && htab_put(&h, &k, NULL); i++, k++)
			;
		ok(h.count >= before, "a failed allocation leaves the table usable");
	}
	fl_alloc_fail_at(0);
	htab_free(&h);
}

static void test_route_roundtrip(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_NEWROUTE, 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	struct nl_route r;
	struct ipaddr dst;

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 24;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_FLANNEL;
	rtm->rtm_type = RTN_UNICAST;
	addr_parse("100.64.5.0", &dst);
	nl_put_addr(nlh, RTA_DST, &dst);
	mnl_attr_put_u32(nlh, RTA_NH_ID, 70000);
	ok(nl_route_parse(nlh, &r) == 0, "route message parses");
	ok(addr_equal(&r.dst.addr, &dst) && r.dst.len == 24, "destination kept");
	is_int(r.nhid, 70000, "nexthop id kept");
	is_int(r.protocol, RTPROT_FLANNEL, "protocol kept");
}

static void test_backend_config(void)
{
	struct vxlan_conf c = { .vni = 1 };
	struct vxlan_apply ap = { 0 };
	char err[200];
	char *data;
	uint8_t mac[6] = { 0xce, 0x8e, 0x4f, 0xa1, 0x22, 0x01 };

	ok(vxlan_conf_parse_backend("{\"Type\":\"vxlan\",\"vni\":7,\"PORT\":4789,\"GBP\":true,"
				    "\"Learning\":true,\"DirectRouting\":true,\"MTU\":1400,"
				    "\"MacPrefix\":\"0E-2A\",\"Unknown\":[1]}",
				    &c, &ap, err, sizeof(err)) == 0,
	   "upstream's Backend keys, any case, unknown ones ignored");
	ok(c.vni == 7 && c.port == 4789 && c.gbp && c.learning && ap.direct_routing &&
	   c.mtu == 1400 && c.mac_prefix_len == 2 && c.mac_prefix[1] == 0x2a,
	   "every key lands in its field");
	ok(vxlan_conf_parse_backend("{\"VNI\":16777216}", &c, &ap, err, sizeof(err)) < 0,
	   "VNI above 24 bits refused");
	is_str(err, "Backend.VNI is not an integer within 0..16777215", "and said so");
	ok(vxlan_conf_parse_backend("{\"GBP\":\"yes\"}", &c, &ap, err, sizeof(err)) < 0,
	   "a string for a boolean refused");
	ok(vxlan_conf_parse_backend("[1]", &c, &ap, err, sizeof(err)) < 0, "not an object");
	ok(vxlan_conf_parse_backend("{\"VNI\":1,\"VNI\":2}", &c, &ap, err, sizeof(err)) < 0,
	   "duplicate keys refused");
	data = vxlan_backend_data(1, mac);
	is_str(data, "{\"VNI\":1,\"VtepMAC\":\"ce:8e:4f:a1:22:01\"}",
	       "BackendData byte for byte as upstream");
	free(data);
}

int main(void)
{
	test_mac();
	test_backend_config();
	test_htab();
	test_route_roundtrip();
	return tap_done();
}
