/* check_fw.c - a FORWARD policy of DROP without rules that accept the
 * overlay network: read at run time from iptables(8) ("-S FORWARD", and our
 * FLANNEL-FWD chain) and nft(8) (every base chain on the forward hook),
 * as flannel-masq writes them. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/subproc.h"
#include "check/check_priv.h"

/* Lines of text with both needles: "-s 100.64.0.0/16" and "-j ACCEPT". */
static bool has_line(const char *text, const char *a, const char *b)
{
	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		char *line = fl_strndup(l, n);
		bool hit = line && strstr(line, a) && strstr(line, b);

		free(line);
		if (hit)
			return true;
		l = e ? e + 1 : NULL;
	}
	return false;
}

/* 1: the policy is DROP with nothing accepting net both ways; 0: fine;
 * -1: iptables did not answer. */
static int ipt_drops(const struct check *c, const char *net, char *why, size_t len)
{
	static const char *const fwd[] = { "-w", "-S", "FORWARD", NULL };
	static const char *const ours[] = { "-w", "-S", "FLANNEL-FWD", NULL };
	char *out = NULL, *chain = NULL, s[96], d[96];
	bool src, dst;
	int rc = subproc_run(c->o->iptables, fwd, NULL, &out, SUBPROC_QUIET);

	if (rc != 0) {
		free(out);
		return -1;
	}
	if (!strstr(out, "-P FORWARD DROP")) {
		free(out);
		return 0;
	}
	snprintf(s, sizeof(s), "-s %s", net);
	snprintf(d, sizeof(d), "-d %s", net);
	src = has_line(out, s, "-j ACCEPT");
	dst = has_line(out, d, "-j ACCEPT");
	if (strstr(out, "-j FLANNEL-FWD") &&
	    subproc_run(c->o->iptables, ours, NULL, &chain, SUBPROC_QUIET) == 0) {
		src = src || has_line(chain, s, "-j ACCEPT");
		dst = dst || has_line(chain, d, "-j ACCEPT");
	}
	free(chain);
	free(out);
	if (src && dst)
		return 0;
	snprintf(why, len, "the iptables FORWARD policy is DROP and no rule accepts traffic %s %s",
		 !src && !dst ? "from or to" : !src ? "from" : "to", net);
	return 1;
}

/* A base chain on the forward hook with policy drop (other than iptables'
 * own filter FORWARD, read above) that has no accept for net both ways. */
static int nft_drops(const struct check *c, const char *net, bool skip_ipt, char *why,
		     size_t len)
{
	static const char *const args[] = { "-j", "list", "chains", NULL };
	char *out = NULL, s[96], d[96];
	json_t *root, *arr, *it;
	size_t i;
	int found = 0;

	if (subproc_run(c->o->nft, args, NULL, &out, SUBPROC_QUIET) != 0) {
		free(out);
		return -1;
	}
	root = json_loads(out, 0, NULL);
	free(out);
	arr = json_object_get(root, "nftables");
	snprintf(s, sizeof(s), "saddr %s", net);
	snprintf(d, sizeof(d), "daddr %s", net);
	json_array_foreach(arr, i, it) {
		json_t *ch = json_object_get(it, "chain");
		const char *fam = json_string_value(json_object_get(ch, "family"));
		const char *tab = json_string_value(json_object_get(ch, "table"));
		const char *name = json_string_value(json_object_get(ch, "name"));
		const char *hook = json_string_value(json_object_get(ch, "hook"));
		const char *pol = json_string_value(json_object_get(ch, "policy"));
		const char *list[] = { "list", "chain", fam, tab, name, NULL };
		char *rules = NULL;
		bool ok;

		if (!fam || !tab || !name || !hook || !pol || strcmp(hook, "forward") ||
		    strcmp(pol, "drop") || (strcmp(fam, "ip") && strcmp(fam, "inet")))
			continue;
		if (skip_ipt && !strcmp(fam, "ip") && !strcmp(tab, "filter") &&
		    !strcmp(name, "FORWARD"))
			continue;
		ok = subproc_run(c->o->nft, list, NULL, &rules, SUBPROC_QUIET) == 0 &&
		     has_line(rules, s, "accept") && has_line(rules, d, "accept");
		free(rules);
		if (!ok) {
			snprintf(why, len, "nft chain %s %s %s drops forwarded packets and "
				 "accepts none from and to %s", fam, tab, name, net);
			found = 1;
			break;
		}
	}
	json_decref(root);
	return found;
}

void check_forward(struct check *c)
{
	char net[ADDR_STRLEN], why[256], fix[384];
	int ipt, nft;

	if (!c->cfg.network.addr.family)
		return;
	prefix_format(&c->cfg.network, net, sizeof(net));
	snprintf(fix, sizeof(fix), "run flannel-masq (its forward rules accept the network, also "
		 "in iptables' FLANNEL-FWD), or accept it yourself: iptables -A FORWARD -s %s -j "
		 "ACCEPT; iptables -A FORWARD -d %s -j ACCEPT", net, net);
	ipt = ipt_drops(c, net, why, sizeof(why));
	if (ipt == 1) {
		check_report(c, CHECK_FAIL, "forward", net, fix, "%s", why);
		return;
	}
	nft = nft_drops(c, net, ipt == 0, why, sizeof(why));
	if (nft == 1) {
		check_report(c, CHECK_FAIL, "forward", net, fix, "%s", why);
		return;
	}
	if (ipt < 0 && nft < 0) {
		check_report(c, CHECK_SKIP, "forward", net, NULL,
			     "neither %s nor %s could list the rules", c->o->iptables, c->o->nft);
		return;
	}
	check_report(c, CHECK_OK, "forward", net, NULL,
		     "no FORWARD policy drops it unaccepted (%s%s%s)", ipt == 0 ? "iptables" : "",
		     ipt == 0 && nft == 0 ? ", " : "", nft == 0 ? "nft" : "");
}
