/* masq_watch.c - keep our nft table as applied, driven by nftables events. */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers, which then skip their copy */
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sig.h"
#include "base/subproc.h"
#include "masq/masq.h"

/* Every nf_tables object message carries its table's name as attribute 1. */
#define NFTA_ANY_TABLE 1
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 30000

struct watch {
	const struct masq_conf *c;
	struct mnl_socket *nl;
	char *reference; /* "nft -s list table" right after our apply */
	int dirty;       /* an event touched our table since the last check */
	int retry_ms;    /* > 0: the last apply failed, try again after this */
};

static int watch_open(struct watch *w)
{
	int group = NFNLGRP_NFTABLES, rcvbuf = 1 << 20;

	w->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!w->nl)
		return -1;
	if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(w->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
		return -1;
	/* A bigger queue makes ENOBUFS rare; when it happens we check anyway. */
	setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

/* Our table as nft lists it, without counter values; NULL when absent. */
static char *list_table(const struct masq_conf *c)
{
	const char *args[] = { "-s", "list", "table", "inet", c->table, NULL };
	char *out = NULL;
	int rc = subproc_run(c->nft, args, NULL, &out, SUBPROC_QUIET);

	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Apply and remember what the table looks like; sets the retry timer. */
static int watch_apply(struct watch *w)
{
	int rc = masq_apply(w->c);

	free(w->reference);
	w->reference = NULL;
	if (rc == 0)
		w->reference = list_table(w->c);
	if (rc == 0 && w->reference) {
		w->retry_ms = 0;
		return 0;
	}
	if (rc == 0) {
		log_err("list table inet %s: gone right after apply", w->c->table);
		rc = 1;
	}
	w->retry_ms = w->retry_ms ? w->retry_ms * 2 : RETRY_MIN_MS;
	if (w->retry_ms > RETRY_MAX_MS)
		w->retry_ms = RETRY_MAX_MS;
	return rc;
}

/* Restore the table when it differs from what we applied. */
static void watch_check(struct watch *w)
{
	char *now;

	w->dirty = 0;
	if (w->retry_ms) {
		log_notice("apply table inet %s: retrying", w->c->table);
		watch_apply(w);
		return;
	}
	now = list_table(w->c);
	if (now && w->reference && strcmp(now, w->reference) == 0) {
		log_debug("check table inet %s: as applied", w->c->table);
		free(now);
		return;
	}
	log_notice("restore table inet %s: %s by someone else", w->c->table,
		   now ? "changed" : "removed");
	free(now);
	if (watch_apply(w) == 0)
		log_notice("restore table inet %s: done", w->c->table);
}

static void note_event(struct watch *w, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *g;
	const struct nlattr *a;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN ||
	    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g))
		return;
	g = mnl_nlmsg_get_payload(nlh);
	if (g->nfgen_family != NFPROTO_INET)
		return;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) != NFTA_ANY_TABLE ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			continue;
		if (strcmp(mnl_attr_get_str(a), w->c->table) == 0) {
			log_debug("nftables event %u on table inet %s",
				  NFNL_MSG_TYPE(nlh->nlmsg_type), w->c->table);
			w->dirty = 1;
		}
	}
}

/* Read one datagram of events; -1 on a socket error other than ENOBUFS. */
static int watch_read(struct watch *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	ssize_t n = mnl_socket_recvfrom(w->nl, buf, sizeof(buf));
	const struct nlmsghdr *nlh;
	int len;

	if (n < 0 && errno == ENOBUFS) {
		log_warn("read nftables events: lost some (ENOBUFS), checking the table");
		w->dirty = 1;
		return 0;
	}
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	len = (int)n;
	for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
	     nlh = mnl_nlmsg_next(nlh, &len))
		note_event(w, nlh);
	return 0;
}

/* 0: keep going; else the result for masq_watch (1: stop). */
static int watch_signal(void)
{
	int sig, rc = 0;

	while ((sig = sig_next()) > 0) {
		if (sig == SIGTERM || sig == SIGINT)
			return 1;
		if (sig == SIGHUP)
			rc = MASQ_RELOAD;
	}
	return rc;
}

static int watch_loop(struct watch *w)
{
	struct pollfd p[2] = { { .fd = mnl_socket_get_fd(w->nl), .events = POLLIN },
			       { .fd = sig_fd(), .events = POLLIN } };
	int n, rc;

	for (;;) {
		n = poll(p, 2, w->retry_ms ? w->retry_ms : -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("wait for nftables events: %s", strerror(errno));
			return FL_ERR_OS;
		}
		if (n == 0)
			w->dirty = 1;
		if (p[1].revents & POLLIN) {
			rc = watch_signal();
			if (rc)
				return rc == MASQ_RELOAD ? MASQ_RELOAD : 0;
		}
		if ((p[0].revents & (POLLIN | POLLERR)) && watch_read(w) < 0) {
			log_err("read nftables events: %s", strerror(errno));
			return FL_ERR_OS;
		}
		if (w->dirty)
			watch_check(w);
	}
}

int masq_watch(const struct masq_conf *c, void (*ready)(void *), void *arg)
{
	static const char *const version[] = { "--version", NULL };
	struct watch w = { .c = c };
	int rc;

	if (subproc_run(c->nft, version, NULL, NULL, SUBPROC_QUIET) < 0) {
		log_err("watch table inet %s: run %s: %s (watch needs nft; without it, "
			"apply uses iptables but nothing restores the rules)",
			c->table, c->nft, strerror(errno));
		return errno == ENOENT ? FL_ERR_UNAVAILABLE : FL_ERR_OS;
	}
	/* Listen first, so that no change after our apply goes unseen. */
	if (watch_open(&w) < 0) {
		log_err("listen to nftables events: %s", strerror(errno));
		rc = errno == EPERM ? FL_ERR_PERM : FL_ERR_OS;
		goto out;
	}
	rc = watch_apply(&w);
	if (rc)
		goto out;
	log_notice("watch table inet %s: applied, restoring it on change", c->table);
	if (ready)
		ready(arg);
	rc = watch_loop(&w);
out:
	free(w.reference);
	if (w.nl)
		mnl_socket_close(w.nl);
	return rc;
}
