/* Network config: upstream's defaults and every validation rule. */
#include <string.h>
#include <sys/socket.h>

#include "model/config.h"
#include "tap.h"

static char err[512];

static int parse(const char *json, struct net_config *c)
{
	err[0] = '\0';
	return config_parse(json, strlen(json), c, err, sizeof(err));
}

static const char *addr(const struct ipaddr *a)
{
	static char buf[ADDR_STRLEN];

	return addr_format(a, buf, sizeof(buf));
}

/* An invalid config must fail with a message naming field and rule. */
static void bad(const char *json, const char *want)
{
	struct net_config c;

	config_init(&c);
	ok(parse(json, &c) < 0 && strstr(err, want), "rejects %s", json);
	if (!strstr(err, want))
		printf("#   got: %s\n#   want substring: %s\n", err, want);
	config_clear(&c);
}

static void defaults(void)
{
	struct net_config c;

	config_init(&c);
	ok(parse("{\"Network\":\"100.64.0.0/16\"}", &c) == 0, "minimal config");
	ok(c.enable_ipv4 && !c.enable_ipv6, "IPv4 on, IPv6 off by default");
	is_int(c.subnet_len, 24, "a /16 gets /24 subnets");
	is_str(addr(&c.subnet_min), "100.64.1.0", "SubnetMin skips the first subnet");
	is_str(addr(&c.subnet_max), "100.64.255.0", "SubnetMax is the last subnet");
	is_str(c.backend_type, "udp", "no Backend means udp, as upstream");
	ok(parse("{\"Network\":\"100.64.0.0/24\"}", &c) == 0, "a /24 network");
	is_int(c.subnet_len, 26, "a /24 gets /26 (length + 2)");
	is_str(addr(&c.subnet_min), "100.64.0.64", "second /26");
	is_str(addr(&c.subnet_max), "100.64.0.192", "last /26");
	ok(parse("{\"Network\":\"100.64.0.0/22\"}", &c) == 0, "a /22 network");
	is_int(c.subnet_len, 24, "a /22 still gets /24");
	ok(parse("{\"network\":\"100.64.5.7/16\",\"backend\":{\"type\":\"VXLAN\",\"VNI\":3}}", &c) == 0,
	   "keys match without regard to case; host bits cleared");
	is_str(addr(&c.network.addr), "100.64.0.0", "network masked");
	is_str(c.backend_type, "vxlan", "backend type lowercased");
	ok(json_integer_value(config_backend_get(&c, "vni")) == 3, "backend keys kept");
	ok(parse("{\"Network\":\"100.64.0.0/16\",\"SubnetLen\":20,\"SubnetMin\":\"100.64.16.0\","
		 "\"SubnetMax\":\"100.64.32.0\"}", &c) == 0, "explicit range");
	is_str(addr(&c.subnet_min), "100.64.16.0", "SubnetMin kept");
	ok(parse("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"2001:db8:1::/48\"}",
		 &c) == 0, "IPv6 only");
	is_int(c.subnet6_len, 64, "a /48 gets /64 subnets");
	is_str(addr(&c.subnet6_min), "2001:db8:1:1::", "IPv6SubnetMin");
	is_str(addr(&c.subnet6_max), "2001:db8:1:ffff::", "IPv6SubnetMax");
	ok(parse("{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true,"
		 "\"IPv6Network\":\"2001:db8:1::/120\"}", &c) == 0, "dual stack, small v6");
	is_int(c.subnet6_len, 122, "a /120 gets /122");
	config_clear(&c);
}

static void errors(void)
{
	bad("{", "invalid JSON");
	bad("[]", "JSON object");
	bad("{}", "Network is missing");
	bad("{\"Network\":\"0.0.0.0/0\"}", "Network is missing or /0");
	bad("{\"Network\":\"100.64.0.0\"}", "Network must be an IPv4 CIDR");
	bad("{\"Network\":\"2001:db8::/32\"}", "Network must be an IPv4 CIDR");
	bad("{\"Network\":5}", "Network must be an IPv4 CIDR");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetLen\":31}", "SubnetLen 31 must be at most 30");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetLen\":17}", "SubnetLen 17 must be at least /18");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetLen\":\"24\"}", "SubnetLen must be an integer");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetLen\":-1}", "SubnetLen -1 is not within");
	bad("{\"Network\":\"100.64.0.0/29\"}", "Network /29 is too small");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetMin\":\"100.65.0.0\"}",
	    "SubnetMin 100.65.0.0 is not inside Network");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetMax\":\"100.65.0.0\"}",
	    "SubnetMax 100.65.0.0 is not inside Network");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetMin\":\"100.64.1.1\"}",
	    "SubnetMin 100.64.1.1 is not on a /24");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetMax\":\"100.64.1.128\"}",
	    "SubnetMax 100.64.1.128 is not on a /24");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetMin\":\"100.64.9.0\",\"SubnetMax\":\"100.64.2.0\"}",
	    "SubnetMin 100.64.9.0 is above SubnetMax");
	bad("{\"Network\":\"100.64.0.0/16\",\"SubnetMin\":\"nope\"}", "SubnetMin must be an IPv4");
	bad("{\"Network\":\"100.64.0.0/16\",\"EnableIPv4\":\"yes\"}", "EnableIPv4 must be true or false");
	bad("{\"EnableIPv4\":false}", "no stack defined");
	bad("{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true}", "IPv6Network is missing");
	bad("{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"100.65.0.0/16\"}",
	    "IPv6Network must be an IPv6 CIDR");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"2001:db8::/32\","
	    "\"IPv6SubnetLen\":127}", "IPv6SubnetLen 127 must be at most 126");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"2001:db8::/32\","
	    "\"IPv6SubnetLen\":33}", "IPv6SubnetLen 33 must be at least /34");
	/* Issue 12: printed dotted, so appliers and subnet.env could not take it back. */
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"::ffff:100.64.0.0/112\"}",
	    "IPv6Network must be an IPv6 CIDR");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"::ffff:0:0/96\"}",
	    "IPv6Network must be an IPv6 CIDR");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"::/80\","
	    "\"IPv6SubnetMin\":\"::ffff:0:0\"}", "IPv6SubnetMin must be an IPv6 address");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"2001:db8::/125\"}",
	    "IPv6Network /125 is too small");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"2001:db8::/48\","
	    "\"IPv6SubnetMin\":\"2001:db9::\"}", "IPv6SubnetMin 2001:db9:: is not inside");
	bad("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"2001:db8::/48\","
	    "\"IPv6SubnetMax\":\"2001:db8:0:5::1\"}", "IPv6SubnetMax 2001:db8:0:5::1 is not on a /64");
	bad("{\"Network\":\"100.64.0.0/16\",\"Backend\":\"vxlan\"}", "Backend must be a JSON object");
	bad("{\"Network\":\"100.64.0.0/16\",\"Backend\":{}}", "Backend.Type must be");
	bad("{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"\"}}", "Backend.Type must be");
}

static void ranges(void)
{
	struct net_config c;
	struct prefix p;

	config_init(&c);
	parse("{\"Network\":\"100.64.0.0/16\",\"SubnetMin\":\"100.64.10.0\",\"SubnetMax\":\"100.64.20.0\"}",
	      &c);
	prefix_parse("100.64.10.0/24", &p);
	ok(config_subnet_ok(&c, &p), "SubnetMin itself fits");
	prefix_parse("100.64.20.0/24", &p);
	ok(config_subnet_ok(&c, &p), "SubnetMax itself fits");
	prefix_parse("100.64.21.0/24", &p);
	ok(!config_subnet_ok(&c, &p), "above SubnetMax does not fit");
	prefix_parse("100.64.12.0/25", &p);
	ok(!config_subnet_ok(&c, &p), "wrong length does not fit");
	config_clear(&c);
}

int main(void)
{
	defaults();
	errors();
	ranges();
	return tap_done();
}
