/* The nft script flannel-masq builds: rules, options, checks, ENOMEM. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "masq/masq.h"
#include "tap.h"

static void conf_v4(struct masq_conf *c)
{
	masq_conf_init(c);
	prefix_parse("100.64.0.0/16", &c->network);
	prefix_parse("100.64.5.1/24", &c->subnet);
}

static int has(const char *s, const char *needle)
{
	return s && strstr(s, needle) != NULL;
}

int main(void)
{
	struct masq_conf c;
	char *s = NULL;
	int rc;

	log_init("test_masq", 0);
	conf_v4(&c);
	ok(masq_conf_check(&c) == 0, "v4 configuration is valid");
	ok(masq_script(&c, &s) == 0, "script built");
	need(s);
	ok(has(s, "table inet flannel\ndelete table inet flannel\ntable inet flannel {\n"),
	   "replaces the table in one transaction");
	ok(has(s, "meta mark & 0x00004000 == 0x00004000 counter return"), "kube-proxy mark returns");
	ok(has(s, "ip saddr 100.64.5.0/24 ip daddr 100.64.0.0/16 counter return"), "P -> C returns");
	ok(has(s, "ip saddr 100.64.0.0/16 ip daddr 100.64.5.0/24 counter return"), "C -> P returns");
	ok(has(s, "ip saddr != 100.64.0.0/16 ip daddr 100.64.5.0/24 counter return"), "!C -> P returns");
	ok(has(s, "ip saddr 100.64.0.0/16 ip daddr != 224.0.0.0/4 counter masquerade fully-random"),
	   "C -> !multicast masqueraded fully-random");
	ok(has(s, "ip saddr != 100.64.0.0/16 ip daddr 100.64.0.0/16 counter masquerade fully-random"),
	   "!C -> C masqueraded");
	ok(has(s, "ip saddr 100.64.0.0/16 counter accept") &&
	   has(s, "ip daddr 100.64.0.0/16 counter accept"), "forward accept both ways");
	ok(!has(s, "ip6"), "no IPv6 rule without an IPv6 network");
	ok(strstr(s, "return") < strstr(s, "masquerade"),
	   "returns come before masquerades");
	free(s);

	c.fully_random = false;
	c.forward = false;
	masq_script(&c, &s);
	ok(!has(s, "fully-random") && !has(s, "chain forward"), "fully-random and forward off");
	free(s);

	c.masq = false;
	ok(masq_conf_empty(&c), "neither masq nor forward: empty");
	masq_script(&c, &s);
	ok(!has(s, "{"), "empty: the script only deletes the table");
	free(s);

	masq_conf_init(&c);
	prefix_parse("2001:db8:1::/48", &c.network6);
	prefix_parse("2001:db8:1:5::1/64", &c.subnet6);
	masq_script(&c, &s);
	ok(has(s, "ip6 saddr 2001:db8:1::/48 ip6 daddr != ff00::/8 counter masquerade") &&
	   !has(s, "ip saddr"), "IPv6 only: ff00::/8, no IPv4 rule");
	free(s);

	conf_v4(&c);
	prefix_parse("198.18.0.0/24", &c.subnet);
	ok(masq_conf_check(&c) < 0, "subnet outside the network rejected");
	conf_v4(&c);
	memset(&c.subnet, 0, sizeof(c.subnet));
	ok(masq_conf_check(&c) < 0, "masq without a subnet rejected");
	c.masq = false;
	ok(masq_conf_check(&c) == 0, "forward rules alone need no subnet");
	conf_v4(&c);
	prefix_parse("2001:db8::/32", &c.network);
	ok(masq_conf_check(&c) < 0, "IPv6 prefix as the IPv4 network rejected");
	conf_v4(&c);
	c.table = "x;flush ruleset";
	ok(masq_conf_check(&c) < 0, "table name with nft syntax rejected");
	c.table = "9x";
	ok(masq_conf_check(&c) < 0, "table name starting with a digit rejected");
	c.table = "flannel_2-b";
	ok(masq_conf_check(&c) == 0, "table name with _ and - accepted");

	/* Every allocation failure gives ENOMEM, nothing leaks (ASan). */
	conf_v4(&c);
	int failed = 0;
	for (unsigned long n = 1; n <= 8; n++) {
		fl_alloc_fail_at(n);
		errno = 0;
		s = NULL;
		rc = masq_script(&c, &s);
		fl_alloc_fail_at(0);
		ok(rc == 0 || (rc == -1 && errno == ENOMEM), "allocation %lu fails cleanly", n);
		if (rc == 0)
			free(s);
		failed += rc < 0;
	}
	ok(failed > 0, "some allocation was failed (%d)", failed);
	return tap_done();
}
