/* flanneld.h - the supervisor: run the pieces of each network in upstream's
 * order and keep them running. */
#ifndef FLANNEL_FLANNELD_H
#define FLANNEL_FLANNELD_H

#include <stdbool.h>

#include "base/cli.h"
#include "etcd/etcd_cli.h"
#include "model/config.h"
#include "netlink/iface.h"

#define FLANNELD_MAX_LIST 16
#define FLANNELD_MAX_NETWORKS 16

struct flanneld_opts {
	struct cli_etcd etcd;
	const char *ifaces[FLANNELD_MAX_LIST];
	int n_ifaces;
	const char *iface_regex[FLANNELD_MAX_LIST];
	int n_regex;
	const char *can_reach;
	const char *public_ip, *public_ip6;
	const char *subnet_file, *subnet_dir;
	const char *networks;     /* comma-separated, or NULL */
	const char *renew_margin; /* passed through to flannel-lease */
	const char *route_shape;  /* nexthop|classic, to the kernel appliers; NULL: theirs */
	const char *healthz_ip;   /* where /healthz and /readyz are served */
	unsigned healthz_port;    /* 0: not served (upstream's default) */
	const char *metrics_ip;   /* where /metrics is served (--metrics-addr) */
	unsigned metrics_port;    /* 0: not served */
	const char *state_dir;    /* the pieces' state files; NULL: their default */
	bool ip_masq, fully_random_disable, forward_rules, blackhole;
	bool dry_run;             /* print the pieces' command lines, run nothing */
	int verbosity;
	const char *bin_dir;      /* where the pieces live */
	const char *ext_pass_env; /* names the extension commands get too, or NULL */
	const char *listen;       /* server mode: run flannel-server here */
	char **envp;
};

/* Runs until SIGTERM; returns 0 or an error kind (base/err.h). */
int flanneld_run(struct flanneld_opts *o);
/* Server mode (--listen): become flannel-server with the same etcd and TLS
 * options; returns an error kind (base/err.h) only when that could not be
 * started. */
int flanneld_serve(struct flanneld_opts *o);

#endif
