/* Prefix arithmetic, address formats and subnet keys. */
#include <sys/socket.h>

#include "model/subnet.h"
#include "tap.h"

static const char *fmt_prefix(const char *in, char *buf, size_t len)
{
	struct prefix p;

	if (prefix_parse(in, &p) < 0)
		return "ERR";
	return prefix_format(&p, buf, len);
}

static const char *fmt_addr(const char *in, char *buf, size_t len)
{
	struct ipaddr a;

	if (addr_parse(in, &a) < 0)
		return "ERR";
	return addr_format(&a, buf, len);
}

/* subnet_check_peers' known(): the held leases, and how often it was asked. */
static struct prefix held[2];
static int n_held, asked;

static bool is_held(void *arg, const struct prefix *q)
{
	(void)arg;
	asked++;
	for (int i = 0; i < n_held; i++)
		if (prefix_equal(&held[i], q))
			return true;
	return false;
}

static void test_check_peers(void)
{
	struct subnet_lens lens = { 0 };
	struct prefix s;
	char err[160];

	prefix_parse("100.64.44.0/24", &held[0]);
	prefix_parse("2001:db8:1:44::/64", &held[1]);
	n_held = 2;
	subnet_lens_add(&lens, &held[0]);
	subnet_lens_add(&lens, &held[1]);
	prefix_parse("100.64.44.0/25", &s);
	asked = 0;
	ok(subnet_check_peers(&s, &lens, is_held, NULL, err, sizeof(err)) < 0 && asked == 1,
	   "a /25 inside a held /24 is refused, with one lookup (the /24) (asked %d)", asked);
	is_str(err, "subnet 100.64.44.0/25 overlaps the lease of 100.64.44.0/24", "its reason");
	prefix_parse("100.64.45.0/24", &s);
	asked = 0;
	ok(subnet_check_peers(&s, &lens, is_held, NULL, err, sizeof(err)) == 0 && asked == 0,
	   "another /24 where only /24 leases are held: no lookup (asked %d)", asked);
	asked = 0;
	ok(subnet_check_peers(&s, NULL, is_held, NULL, err, sizeof(err)) == 0 && asked == 31,
	   "without lens every other length is asked (asked %d)", asked);
	prefix_parse("2001:db8:1:44::1/128", &s);
	asked = 0;
	ok(subnet_check_peers(&s, &lens, is_held, NULL, err, sizeof(err)) < 0 && asked == 1,
	   "an IPv6 /128 at a held /64's address is refused, one lookup (asked %d)", asked);
}

int main(void)
{
	char buf[KEY_STRLEN];
	struct prefix p, q, v4, v6;
	struct ipaddr a;

	/* Parsing and masking. */
	is_str(fmt_prefix("100.64.5.7/16", buf, sizeof(buf)), "100.64.0.0/16", "host bits cleared");
	is_str(fmt_prefix("100.64.0.0/33", buf, sizeof(buf)), "ERR", "/33 rejected");
	is_str(fmt_prefix("100.064.0.0/16", buf, sizeof(buf)), "ERR", "leading zero rejected");
	is_str(fmt_prefix("100.64.0.0/", buf, sizeof(buf)), "ERR", "empty length rejected");
	is_str(fmt_prefix("100.64.0/16", buf, sizeof(buf)), "ERR", "three octets rejected");
	is_str(fmt_prefix("256.1.1.1/8", buf, sizeof(buf)), "ERR", "octet 256 rejected");
	is_str(fmt_prefix("2001:db8:1::5/48", buf, sizeof(buf)), "2001:db8:1::/48", "v6 masked");
	is_str(fmt_prefix("2001:DB8::/32", buf, sizeof(buf)), "2001:db8::/32", "v6 lower case");
	is_str(fmt_prefix("2001:db8::/129", buf, sizeof(buf)), "ERR", "v6 /129 rejected");
	ok(prefix_parse_strict("100.64.5.1/24", &p) < 0, "strict parse refuses host bits");
	ok(prefix_parse_strict("100.64.5.0/24", &p) == 0, "strict parse accepts a network");

	/* RFC 5952 formatting. */
	is_str(fmt_addr("2001:0db8:0:0:1:0:0:1", buf, sizeof(buf)), "2001:db8::1:0:0:1",
	       "first longest zero run compressed");
	is_str(fmt_addr("2001:db8:0:1:1:1:1:1", buf, sizeof(buf)), "2001:db8:0:1:1:1:1:1",
	       "single zero group not compressed");
	is_str(fmt_addr("::", buf, sizeof(buf)), "::", "all zeros");
	is_str(fmt_addr("::1", buf, sizeof(buf)), "::1", "loopback");
	is_str(fmt_addr("1::", buf, sizeof(buf)), "1::", "trailing zeros");
	is_str(fmt_addr("::ffff:198.51.100.1", buf, sizeof(buf)), "198.51.100.1",
	       "v4-mapped printed as v4, as Go does");
	ok(addr_parse("fe80::1%eth0", &a) < 0, "zone rejected");
	ok(addr_parse(" 192.0.2.1", &a) < 0, "leading space rejected");

	/* Arithmetic. */
	prefix_parse("100.64.255.0/24", &p);
	ok(prefix_next(&p), "next /24");
	is_str(prefix_format(&p, buf, sizeof(buf)), "100.65.0.0/24", "carry into the next octet");
	prefix_parse("255.255.255.0/24", &p);
	ok(!prefix_next(&p), "last /24 of the space wraps");
	prefix_parse("2001:db8:1:ffff::/64", &p);
	ok(prefix_next(&p), "next v6 /64");
	is_str(prefix_format(&p, buf, sizeof(buf)), "2001:db8:2::/64", "v6 carry");
	prefix_parse("100.64.0.0/16", &p);
	prefix_last_addr(&p, &a);
	is_str(addr_format(&a, buf, sizeof(buf)), "100.64.255.255", "last address");
	prefix_parse("100.64.5.0/24", &p);
	prefix_first_host(&p, &a);
	is_str(addr_format(&a, buf, sizeof(buf)), "100.64.5.1", "first host");
	addr_parse("100.64.1.0", &a);
	ok(addr_add(&a, -256), "subtract");
	is_str(addr_format(&a, buf, sizeof(buf)), "100.64.0.0", "100.64.1.0 - 256");
	addr_parse("0.0.0.0", &a);
	ok(!addr_add(&a, -1), "underflow detected");

	prefix_parse("100.64.0.0/16", &p);
	prefix_parse("100.64.5.0/24", &q);
	ok(prefix_contains(&p, &q), "contains");
	ok(!prefix_contains(&q, &p), "does not contain wider");
	ok(prefix_overlaps(&q, &p), "overlaps either way");
	prefix_parse("100.65.5.0/24", &q);
	ok(!prefix_overlaps(&q, &p), "disjoint");
	prefix_parse("2001:db8::/32", &q);
	ok(!prefix_overlaps(&q, &p), "families never overlap");

	addr_parse("127.0.0.1", &a);
	ok(addr_is_unusable(&a), "loopback unusable");
	addr_parse("224.0.0.5", &a);
	ok(addr_is_unusable(&a), "multicast unusable");
	addr_parse("192.0.2.7", &a);
	ok(!addr_is_unusable(&a), "unicast usable");
	addr_parse("ff02::1", &a);
	ok(addr_is_unusable(&a), "v6 multicast unusable");

	/* Subnet keys. */
	prefix_parse("100.64.5.0/24", &v4);
	ok(subnet_key_format(&v4, NULL, buf, sizeof(buf)) == 0, "format v4 key");
	is_str(buf, "100.64.5.0-24", "v4 key");
	prefix_parse("2001:db8:1:5::/64", &v6);
	subnet_key_format(&v4, &v6, buf, sizeof(buf));
	is_str(buf, "100.64.5.0-24&2001:db8:1:5::-64", "dual-stack key");
	subnet_key_format(NULL, &v6, buf, sizeof(buf));
	is_str(buf, "0.0.0.0-0&2001:db8:1:5::-64", "IPv6-only key");

	ok(subnet_key_parse("/coreos.com/network/subnets/100.64.5.0-24", &p, &q) == 0,
	   "parse full key");
	is_str(prefix_format(&p, buf, sizeof(buf)), "100.64.5.0/24", "parsed v4");
	ok(q.addr.family == 0, "no v6 part");
	ok(subnet_key_parse("100.64.5.0-24&2001:db8:1:5::-64", &p, &q) == 0, "parse dual key");
	is_str(prefix_format(&q, buf, sizeof(buf)), "2001:db8:1:5::/64", "parsed v6");
	ok(subnet_key_parse("0.0.0.0-0&2001:db8:1:5::-64", &p, &q) == 0, "parse v6-only key");
	ok(p.addr.family == 0 && q.addr.family == AF_INET6, "v6-only has no v4 part");
	ok(subnet_key_parse("100.64.5.0-32", &p, &q) < 0, "v4 /32 rejected as upstream does");
	ok(subnet_key_parse("100.64.5.0-24hi", &p, &q) < 0, "trailing junk");
	ok(subnet_key_parse("100.64.5.1-24", &p, &q) < 0, "host bits in key");
	ok(subnet_key_parse("100.64.5.0-24&2001:DB8::-64", &p, &q) < 0, "upper-case hex");
	ok(subnet_key_parse("0.0.0.0-0", &p, &q) < 0, "no subnet at all");
	ok(subnet_key_parse("config", &p, &q) < 0, "not a key");

	/* Issue 12: the key's full length, byte for byte, or nothing. */
	ok(subnet_key_parse_n("100.64.70.0-24\0x", 16, &p, &q) < 0, "NUL inside the key");
	ok(subnet_key_parse_n("100.64.70.0-24\0", 15, &p, &q) < 0, "NUL at the end");
	ok(subnet_key_parse_n("100.64.70.0-24", 14, &p, &q) == 0, "the same key without NUL");
	ok(subnet_key_parse_n("100.64.70.0-24x", 14, &p, &q) == 0, "only n bytes are read");
	ok(subnet_key_parse("100.64.5.0-024", &p, &q) < 0, "leading zero in the length");
	ok(subnet_key_parse("100.64.5.0-24&2001:db8:1:5:0::-64", &p, &q) < 0,
	   "non-canonical IPv6 (a second key for the same subnet)");
	ok(subnet_key_parse("100.64.5.0-24&2001:db8:1:5::-064", &p, &q) < 0,
	   "leading zero in the IPv6 length");
	ok(subnet_key_parse("100.64.5.0-24&::ffff:6440:0-112", &p, &q) < 0,
	   "IPv4-mapped IPv6 subnet");
	ok(subnet_key_parse("0.0.0.0-0&::ffff:0:0-96", &p, &q) < 0, "IPv4-mapped ::ffff:0:0/96");
	ok(subnet_key_parse("100.64.5.0-24\n", &p, &q) < 0, "trailing newline");
	ok(subnet_key_parse(" 100.64.5.0-24", &p, &q) < 0, "leading space");
	ok(subnet_key_of("/coreos.com/network/subnets/", "/coreos.com/network/subnets/100.64.5.0-24",
			 41, &p, &q) == 0, "full key under its directory");
	is_str(prefix_format(&p, buf, sizeof(buf)), "100.64.5.0/24", "subnet of the full key");
	ok(subnet_key_of("/coreos.com/network/subnets/",
			 "/coreos.com/network/subnets/x/100.64.5.0-24", 43, &p, &q) < 0,
	   "a key one level down");
	ok(subnet_key_of("/coreos.com/network/subnets/", "/coreos.com/network/subnets/100.64.5.0-24\0x",
			 43, &p, &q) < 0 && !addr_is_set(&p.addr), "full key with NUL: nothing parsed");
	test_check_peers();
	ok(subnet_key_of("/coreos.com/network/subnets/", "/other/100.64.5.0-24", 20, &p, &q) < 0,
	   "another directory");
	return tap_done();
}
