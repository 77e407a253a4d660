/* apply_cli.h - the options every kernel applier's apply command takes
 * (flannel-vxlan, flannel-route, flannel-ipip), parsed once, here. */
#ifndef FLANNEL_APPLY_CLI_H
#define FLANNEL_APPLY_CLI_H

#include <getopt.h>

#include "apply/apply.h"

enum {
	OPT_APPLY_SUBNET_FILE = 1200, OPT_APPLY_SHAPE, OPT_APPLY_NO_MONITOR, OPT_APPLY_NETWORK,
	OPT_APPLY_BLACKHOLE, OPT_APPLY_STATE_DIR,
};

#define APPLY_CLI_OPTIONS                                                           \
	{ "subnet-file", required_argument, NULL, OPT_APPLY_SUBNET_FILE },          \
	{ "route-shape", required_argument, NULL, OPT_APPLY_SHAPE },                \
	{ "no-monitor", no_argument, NULL, OPT_APPLY_NO_MONITOR },                  \
	{ "network", required_argument, NULL, OPT_APPLY_NETWORK },                  \
	{ "blackhole-route", no_argument, NULL, OPT_APPLY_BLACKHOLE },              \
	{ "state-dir", required_argument, NULL, OPT_APPLY_STATE_DIR }

struct apply_cli {
	const char *subnet_file; /* default /run/flannel/subnet.env */
	bool subnet_file_given;
	struct prefix network;   /* --network; family 0: from subnet.env */
	const char *tool;        /* the state file's name */
	const char *state_dir;   /* --state-dir, $FLANNELD_STATE_DIR; NULL: the default */
	struct apply_opts o;
};

/* tool names the state file in state_dir (NULL: /run/flannel/state). */
void apply_cli_init(struct apply_cli *c, const char *tool, const char *state_dir);
/* One of APPLY_CLI_OPTIONS: 0, or -1 with the bad value logged; 1 when opt
 * is not one of them. */
int apply_cli_option(struct apply_cli *c, int opt, const char *arg);
/* Signals, readiness (notify_socket: $NOTIFY_SOCKET or NULL) and subnet.env
 * into c->o, then apply_main: its result (an error kind). */
int apply_cli_run(struct apply_cli *c, const struct apply_backend *be,
		  const char *notify_socket);

#endif
