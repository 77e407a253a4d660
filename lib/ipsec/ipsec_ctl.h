/* ipsec_ctl.h - flannel-ipsec apply's state, shared by the event side
 * (ipsec_run.c) and the periodic checks (ipsec_check.c).  Private to
 * lib/ipsec. */
#ifndef FLANNEL_IPSEC_CTL_H
#define FLANNEL_IPSEC_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/htab.h"
#include "ipsec/charon.h"
#include "ipsec/ipsec.h"
#include "netlink/xfrm.h"
#include "status/state.h"

struct peer {
	struct prefix subnet; /* key */
	struct ipaddr ip;
	uint32_t reqid, gen;
	bool loaded;          /* its key and connection are in charon */
	bool installed;       /* its policies were put */
	bool established, warned;
	int64_t since;        /* monotonic s: loaded */
	int64_t auth_warned;
	char conn[200];
};

struct ctl {
	const struct ipsec_opts *o;
	struct nl *x;
	struct charon ch;
	char charon_path[4096], vici[4200];
	struct vici_conn vc, logc;
	struct htab peers;
	struct prefix own, network;
	struct ipaddr own_ip;
	bool own_known, key_loaded;
	uint32_t gen;
	bool in_snapshot, synced, dirty;
	bool stale_swept;     /* connections of an earlier run unloaded */
	int timer_fd;
	int64_t restart_at;
	unsigned restarts;
	struct state *state;  /* flannel-ipsec.json (flannel-state(5)) */
};

/* ipsec_check.c */
int64_t mono(void);
/* Upstream's three: out, in and fwd, ESP in tunnel mode. */
void policies_of(const struct ctl *c, const struct peer *p, struct xfrm_pol pol[3]);
bool same_policy(const struct xfrm_pol *a, const struct xfrm_pol *b);
const char *pol_text(const struct xfrm_pol *p, char *buf, size_t len);
/* charon is gone or new: everything is loaded into it again. */
void forget_charon(struct ctl *c);
/* A VICI request failed: logged; a broken connection is made again. */
void vici_failed(struct ctl *c, const char *what, const char *err);
/* Ours as they should be: missing ones back, after a sync stale ones out. */
void check_policies(struct ctl *c);
/* After the first sync: connections an earlier run loaded into a charon
 * that outlived it (--vici) and no lease wants now go, with their keys. */
void unload_stale_conns(struct ctl *c);
/* Report peers that come up, go down, or never come up. */
void check_sas(struct ctl *c);
/* charon's log events: an authentication failure names its peer. */
void read_log(struct ctl *c);

#endif
