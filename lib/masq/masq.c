/* masq.c - upstream's masquerade and forward decisions as one nft table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/subproc.h"
#include "masq/masq.h"

#define MASQ_COMMENT "comment \"flanneld masq\""
#define FWD_COMMENT "comment \"flanneld forward\""

void masq_conf_init(struct masq_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->masq = true;
	c->fully_random = true;
	c->forward = true;
	c->table = MASQ_TABLE_DEFAULT;
	c->nft = "nft";
}

bool masq_conf_empty(const struct masq_conf *c)
{
	bool v4 = c->network.addr.family != 0, v6 = c->network6.addr.family != 0;

	return !(v4 || v6) || !(c->masq || c->forward);
}

/* One family: the subnet, when given, must be of the family and inside. */
static int check_family(const struct prefix *net, const struct prefix *sub,
			int family, const char *what)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	if (net->addr.family && net->addr.family != family) {
		log_err("check %snetwork %s: wrong address family", what,
			prefix_format(net, a, sizeof(a)));
		return -1;
	}
	if (!sub->addr.family)
		return 0;
	if (!net->addr.family) {
		log_err("check %ssubnet %s: no %snetwork given", what,
			prefix_format(sub, a, sizeof(a)), what);
		return -1;
	}
	if (!prefix_contains(net, sub)) {
		log_err("check %ssubnet %s: not inside the network %s", what,
			prefix_format(sub, a, sizeof(a)), prefix_format(net, b, sizeof(b)));
		return -1;
	}
	return 0;
}

int masq_conf_check(const struct masq_conf *c)
{
	const char *t = c->table;

	if (check_family(&c->network, &c->subnet, AF_INET, "") < 0 ||
	    check_family(&c->network6, &c->subnet6, AF_INET6, "ipv6 ") < 0)
		return -1;
	if (c->masq && ((c->network.addr.family && !c->subnet.addr.family) ||
			(c->network6.addr.family && !c->subnet6.addr.family))) {
		log_err("check configuration: ip-masq needs this host's subnet");
		return -1;
	}
	/* The name goes into an nft script: letters, digits, '_' and '-'. */
	if (!t || !*t || strlen(t) > 64 || strspn(t, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(t) ||
	    !((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z'))) {
		log_err("check table name '%s': must be a letter then letters, digits, '_', '-'",
			t ? t : "");
		return -1;
	}
	return 0;
}

/* The masquerade rules of one family, in upstream's order. */
static void masq_rules(struct buf *b, const char *ip, const struct prefix *net,
		       const struct prefix *sub, const char *mcast, bool random)
{
	char c[ADDR_STRLEN], p[ADDR_STRLEN];
	const char *fr = random ? " fully-random" : "";

	prefix_format(net, c, sizeof(c));
	prefix_format(sub, p, sizeof(p));
	buf_printf(b, "\t\t%s saddr %s %s daddr %s counter return " MASQ_COMMENT "\n", ip, p, ip, c);
	buf_printf(b, "\t\t%s saddr %s %s daddr %s counter return " MASQ_COMMENT "\n", ip, c, ip, p);
	buf_printf(b, "\t\t%s saddr != %s %s daddr %s counter return " MASQ_COMMENT "\n", ip, c, ip, p);
	buf_printf(b, "\t\t%s saddr %s %s daddr != %s counter masquerade%s " MASQ_COMMENT "\n",
	       ip, c, ip, mcast, fr);
	buf_printf(b, "\t\t%s saddr != %s %s daddr %s counter masquerade%s " MASQ_COMMENT "\n",
	       ip, c, ip, c, fr);
}

static void fwd_rules(struct buf *b, const char *ip, const struct prefix *net)
{
	char c[ADDR_STRLEN];

	prefix_format(net, c, sizeof(c));
	buf_printf(b, "\t\t%s saddr %s counter accept " FWD_COMMENT "\n", ip, c);
	buf_printf(b, "\t\t%s daddr %s counter accept " FWD_COMMENT "\n", ip, c);
}

static void postrouting_chain(struct buf *b, const struct masq_conf *c)
{
	buf_printf(b, "\tchain postrouting {\n"
		  "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		  "\t\tmeta mark & 0x00004000 == 0x00004000 counter return " MASQ_COMMENT "\n");
	if (c->network.addr.family)
		masq_rules(b, "ip", &c->network, &c->subnet, "224.0.0.0/4", c->fully_random);
	if (c->network6.addr.family)
		masq_rules(b, "ip6", &c->network6, &c->subnet6, "ff00::/8", c->fully_random);
	buf_printf(b, "\t}\n");
}

static void forward_chain(struct buf *b, const struct masq_conf *c)
{
	buf_printf(b, "\tchain forward {\n"
		  "\t\ttype filter hook forward priority filter; policy accept;\n");
	if (c->network.addr.family)
		fwd_rules(b, "ip", &c->network);
	if (c->network6.addr.family)
		fwd_rules(b, "ip6", &c->network6);
	buf_printf(b, "\t}\n");
}

/* "table; delete table" removes the table in one go whether it exists or not. */
static void delete_lines(struct buf *b, const char *table)
{
	buf_printf(b, "table inet %s\ndelete table inet %s\n", table, table);
}

int masq_script(const struct masq_conf *c, char **out)
{
	struct buf b = { 0 };

	buf_printf(&b, "# flannel-masq: rules of flanneld --ip-masq, one transaction\n");
	delete_lines(&b, c->table);
	if (!masq_conf_empty(c)) {
		buf_printf(&b, "table inet %s {\n", c->table);
		if (c->masq)
			postrouting_chain(&b, c);
		if (c->forward)
			forward_chain(&b, c);
		buf_printf(&b, "}\n");
	}
	return (*out = buf_take(&b)) ? 0 : -1;
}

int masq_delete_script(const char *table, char **out)
{
	struct buf b = { 0 };

	delete_lines(&b, table);
	return (*out = buf_take(&b)) ? 0 : -1;
}

/* Feed SCRIPT to "nft -f -"; WHAT names the action in messages.  A
 * missing nft gives FL_ERR_UNAVAILABLE quietly: the caller falls back. */
static int run_script(const struct masq_conf *c, const char *script, const char *what)
{
	static const char *const args[] = { "-f", "-", NULL };
	int rc = subproc_run(c->nft, args, script, NULL, 0);

	if (rc < 0 && errno == ENOENT)
		return FL_ERR_UNAVAILABLE;
	if (rc < 0) {
		log_err("%s table inet %s: run %s: %s", what, c->table, c->nft, strerror(errno));
		return errno == ENOMEM ? FL_ERR_INTERNAL : FL_ERR_OS;
	}
	if (rc != 0) {
		log_err("%s table inet %s: nft exited with %d", what, c->table, rc);
		return FL_ERR_FAILED;
	}
	return 0;
}

int masq_apply(const struct masq_conf *c)
{
	char *script;
	int rc;

	if (masq_script(c, &script) < 0) {
		log_err("build ruleset: %s", strerror(errno));
		return FL_ERR_INTERNAL;
	}
	/* iptables' FORWARD first: the same order of tables on every apply. */
	rc = masq_ipt_forward(c);
	if (rc == 0)
		rc = run_script(c, script, "apply");
	free(script);
	if (rc == FL_ERR_UNAVAILABLE) {
		log_warn("apply: %s not found, using iptables instead", c->nft);
		return masq_ipt_apply(c);
	}
	return rc;
}

int masq_delete(const struct masq_conf *c)
{
	char *script;
	int rc;

	if (masq_delete_script(c->table, &script) < 0) {
		log_err("build ruleset: %s", strerror(errno));
		return FL_ERR_INTERNAL;
	}
	rc = run_script(c, script, "delete");
	free(script);
	if (rc == FL_ERR_UNAVAILABLE) {
		log_warn("delete: %s not found, deleting iptables chains instead", c->nft);
		return masq_ipt_delete(c);
	}
	return rc ? rc : masq_ipt_forward_delete(c);
}
