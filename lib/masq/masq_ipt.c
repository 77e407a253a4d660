/* masq_ipt.c - the fallback without nft: the same rules as upstream's
 * iptables chains, FLANNEL-POSTRTG in nat and FLANNEL-FWD in filter, applied
 * with one "iptables-restore --noflush" per family. */
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

#define MASQ_C "-m comment --comment \"flanneld masq\""
#define FWD_C "-m comment --comment \"flanneld forward\""
#define JUMP_NAT "POSTROUTING " MASQ_C " -j FLANNEL-POSTRTG"
#define JUMP_FWD "FORWARD " FWD_C " -j FLANNEL-FWD"

/* One of upstream's two chains, with the jump to it from a built-in chain. */
struct ipt_chain {
	const char *table, *chain, *from, *comment, *jump;
	bool wanted, exists, jumped;
};

struct ipt_family {
	const char *iptables, *restore, *mcast;
	const struct prefix *net, *sub;
	struct ipt_chain nat, fwd;
};

static void ipt_family_init(const struct masq_conf *c, int family, struct ipt_family *f)
{
	bool v6 = family == AF_INET6;

	memset(f, 0, sizeof(*f));
	f->iptables = v6 ? "ip6tables" : "iptables";
	f->restore = v6 ? "ip6tables-restore" : "iptables-restore";
	f->mcast = v6 ? "ff00::/8" : "224.0.0.0/4";
	f->net = v6 ? &c->network6 : &c->network;
	f->sub = v6 ? &c->subnet6 : &c->subnet;
	f->nat = (struct ipt_chain){ .table = "nat", .chain = "FLANNEL-POSTRTG",
				     .from = "POSTROUTING", .comment = "flanneld masq",
				     .jump = JUMP_NAT, .wanted = c->masq && f->net->addr.family };
	f->fwd = (struct ipt_chain){ .table = "filter", .chain = "FLANNEL-FWD",
				     .from = "FORWARD", .comment = "flanneld forward",
				     .jump = JUMP_FWD, .wanted = c->forward && f->net->addr.family };
}

/* Quietly run iptables ARGS; 1: it succeeded, 0: it did not, -1: missing. */
static int ipt_true(const struct ipt_family *f, const char *const args[])
{
	int rc = subproc_run(f->iptables, args, NULL, NULL, SUBPROC_QUIET);

	if (rc < 0)
		return errno == ENOENT ? -1 : 0;
	return rc == 0;
}

/* Does the chain exist, and does its built-in chain jump to it? */
static int ipt_probe(const struct ipt_family *f, struct ipt_chain *ch)
{
	const char *list[] = { "-w", "-t", ch->table, "-S", ch->chain, NULL };
	const char *check[] = { "-w", "-t", ch->table, "-C", ch->from, "-m", "comment",
				"--comment", ch->comment, "-j", ch->chain, NULL };
	int rc = ipt_true(f, list);

	if (rc < 0)
		return -1;
	ch->exists = rc;
	ch->jumped = rc && ipt_true(f, check) > 0;
	return 0;
}

static void ipt_masq_rules(struct buf *b, const struct ipt_family *f, bool random)
{
	char c[ADDR_STRLEN], p[ADDR_STRLEN];
	const char *rf = random ? " --random-fully" : "";

	prefix_format(f->net, c, sizeof(c));
	prefix_format(f->sub, p, sizeof(p));
	buf_printf(b, "-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 " MASQ_C " -j RETURN\n");
	buf_printf(b, "-A FLANNEL-POSTRTG -s %s -d %s " MASQ_C " -j RETURN\n", p, c);
	buf_printf(b, "-A FLANNEL-POSTRTG -s %s -d %s " MASQ_C " -j RETURN\n", c, p);
	buf_printf(b, "-A FLANNEL-POSTRTG ! -s %s -d %s " MASQ_C " -j RETURN\n", c, p);
	buf_printf(b, "-A FLANNEL-POSTRTG -s %s ! -d %s " MASQ_C " -j MASQUERADE%s\n", c, f->mcast, rf);
	buf_printf(b, "-A FLANNEL-POSTRTG ! -s %s -d %s " MASQ_C " -j MASQUERADE%s\n", c, c, rf);
}

static void ipt_fwd_rules(struct buf *b, const struct ipt_family *f)
{
	char c[ADDR_STRLEN];

	prefix_format(f->net, c, sizeof(c));
	buf_printf(b, "-A FLANNEL-FWD -s %s " FWD_C " -j ACCEPT\n", c);
	buf_printf(b, "-A FLANNEL-FWD -d %s " FWD_C " -j ACCEPT\n", c);
}

/* One table's section: declaring the chain flushes it (--noflush keeps the
 * rest); an unwanted chain loses its jump, its rules, then itself. */
static void ipt_section(struct buf *b, const struct ipt_family *f,
			const struct ipt_chain *ch, bool random)
{
	if (!ch->wanted && !ch->exists)
		return;
	buf_printf(b, "*%s\n", ch->table);
	if (ch->wanted) {
		buf_printf(b, ":%s - [0:0]\n", ch->chain);
		if (ch == &f->nat)
			ipt_masq_rules(b, f, random);
		else
			ipt_fwd_rules(b, f);
		if (!ch->jumped)
			buf_printf(b, "-A %s\n", ch->jump);
	} else {
		if (ch->jumped)
			buf_printf(b, "-D %s\n", ch->jump);
		buf_printf(b, "-F %s\n-X %s\n", ch->chain, ch->chain);
	}
	buf_printf(b, "COMMIT\n");
}

/* Bring one family to what c asks for; 0, or an error kind.  FWD_ONLY:
 * only the filter chain, next to our nft table; no iptables is no error.
 * QUIET: the restore's own messages are not shown (a try before a retry). */
static int ipt_apply_once(const struct masq_conf *c, int family, bool fwd_only, bool quiet)
{
	static const char *const args[] = { "-w", "--noflush", NULL };
	struct buf b = { 0 };
	struct ipt_family f;
	char *script;
	int rc;

	ipt_family_init(c, family, &f);
	if (fwd_only)
		f.nat.wanted = false;
	if ((!fwd_only && ipt_probe(&f, &f.nat) < 0) || ipt_probe(&f, &f.fwd) < 0) {
		/* nothing to remove where there is no ip6tables; and no iptables
		 * FORWARD policy can drop where there is no iptables */
		if (fwd_only || (!f.nat.wanted && !f.fwd.wanted))
			return 0;
		log_err("apply %s rules: neither nft nor %s found", f.iptables, f.iptables);
		return FL_ERR_UNAVAILABLE;
	}
	ipt_section(&b, &f, &f.nat, c->fully_random);
	ipt_section(&b, &f, &f.fwd, c->fully_random);
	if (!(script = buf_take(&b))) {
		log_err("build %s rules: %s", f.iptables, strerror(ENOMEM));
		return FL_ERR_INTERNAL;
	}
	if (!*script) {
		free(script);
		return 0;
	}
	rc = subproc_run(f.restore, args, script, NULL, quiet ? SUBPROC_QUIET : 0);
	free(script);
	if (rc < 0) {
		log_err("run %s: %s", f.restore, strerror(errno));
		return errno == ENOENT ? FL_ERR_UNAVAILABLE : FL_ERR_OS;
	}
	if (rc != 0) {
		if (!quiet)
			log_err("apply %s rules: %s exited with %d", f.iptables, f.restore, rc);
		return FL_ERR_FAILED;
	}
	return 0;
}

/* Someone else (another flannel-masq) may change the chains between our
 * probe and our restore: probe again and retry. */
static int ipt_apply_family(const struct masq_conf *c, int family, bool fwd_only)
{
	int rc = FL_ERR_FAILED;

	for (int i = 0; rc == FL_ERR_FAILED && i < 3; i++)
		rc = ipt_apply_once(c, family, fwd_only, i < 2);
	return rc;
}

int masq_ipt_apply(const struct masq_conf *c)
{
	int rc = ipt_apply_family(c, AF_INET, false);

	return rc ? rc : ipt_apply_family(c, AF_INET6, false);
}

int masq_ipt_forward(const struct masq_conf *c)
{
	int rc = ipt_apply_family(c, AF_INET, true);

	return rc ? rc : ipt_apply_family(c, AF_INET6, true);
}

int masq_ipt_forward_delete(const struct masq_conf *c)
{
	struct masq_conf none = *c;

	none.forward = false;
	return masq_ipt_forward(&none);
}

int masq_ipt_delete(const struct masq_conf *c)
{
	struct masq_conf none = *c;

	none.masq = false;
	none.forward = false;
	return masq_ipt_apply(&none);
}
