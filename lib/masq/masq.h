/* masq.h - upstream's ip-masq and forward rules as one nftables table. */
#ifndef FLANNEL_MASQ_H
#define FLANNEL_MASQ_H

#include <stdbool.h>

#include "model/subnet.h"

#define MASQ_TABLE_DEFAULT "flannel"

struct masq_conf {
	struct prefix network, subnet;   /* IPv4: family 0 when absent */
	struct prefix network6, subnet6; /* IPv6: family 0 when absent */
	bool masq;                       /* masquerade rules (--ip-masq) */
	bool fully_random;               /* masquerade fully-random */
	bool forward;                    /* forward accept rules */
	const char *table;               /* name of our "inet" table */
	const char *nft;                 /* nft(8) to run: a path or a name in PATH */
};

/* Defaults: masq, fully-random and forward on, table "flannel", "nft". */
void masq_conf_init(struct masq_conf *c);
/* 0 when usable; else logs why and returns -1 (a subnet outside its network...). */
int masq_conf_check(const struct masq_conf *c);
/* True when the configuration asks for no rule at all. */
bool masq_conf_empty(const struct masq_conf *c);

/*
 * The nft(8) script that replaces our table with the configured rules in one
 * transaction ("table; delete table; table { ... }").  With nothing to
 * install it only deletes the table.  *out is fl_malloc'd.  0, or -1 (ENOMEM).
 */
int masq_script(const struct masq_conf *c, char **out);
/* The script that removes our table, whether it exists or not. */
int masq_delete_script(const char *table, char **out);

/*
 * Results of the functions below: 0 or an error kind (base/err.h)
 * (FL_ERR_UNAVAILABLE: nft not found; FL_ERR_OS: fork, memfd; FL_ERR_INTERNAL: out
 * of memory) or 1 when nft refused the script.  nft's messages are logged.
 */
int masq_apply(const struct masq_conf *c);
int masq_delete(const struct masq_conf *c);

/*
 * The fallback when nft is not installed, used by the two above: upstream's
 * chains FLANNEL-POSTRTG (nat) and FLANNEL-FWD (filter) with the same rules,
 * one "iptables-restore --noflush" per family (and ip6tables-restore).
 */
int masq_ipt_apply(const struct masq_conf *c);
int masq_ipt_delete(const struct masq_conf *c);
/*
 * Next to the nft table, the forward accept rules also go into iptables'
 * FORWARD (chain FLANNEL-FWD, as upstream): an accept in our own base chain
 * cannot override a DROP policy there (Docker sets one).  Whichever backend
 * "iptables" is (nft or legacy); no iptables installed is no error.  The
 * delete removes the chain and its jump.
 */
int masq_ipt_forward(const struct masq_conf *c);
int masq_ipt_forward_delete(const struct masq_conf *c);

/*
 * Apply, then keep the table as applied: listen to nftables netlink events
 * and restore the table as soon as someone else changes or removes it.
 * Needs nft: without it, FL_ERR_UNAVAILABLE.
 * ready(arg) is called once after the first apply.  Signals come through
 * sig.h (the caller runs sig_init first).  Returns 0 on SIGTERM or SIGINT,
 * MASQ_RELOAD on SIGHUP (the caller re-reads its configuration and calls
 * again), else an error code as above.
 */
#define MASQ_RELOAD (-2)
int masq_watch(const struct masq_conf *c, void (*ready)(void *), void *arg);

#endif
