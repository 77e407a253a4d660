/* apply_cli.c - the appliers' shared apply options and start. */
#include <errno.h>
#include <string.h>

#include "apply/apply_cli.h"
#include "base/err.h"
#include "base/log.h"
#include "base/sdnotify.h"
#include "base/sig.h"

void apply_cli_init(struct apply_cli *c, const char *tool, const char *state_dir)
{
	memset(c, 0, sizeof(*c));
	c->tool = tool;
	c->state_dir = state_dir && *state_dir ? state_dir : NULL;
	c->subnet_file = "/run/flannel/subnet.env";
	c->o.sigfd = -1;
}

int apply_cli_option(struct apply_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_APPLY_SUBNET_FILE:
		c->subnet_file = arg;
		c->subnet_file_given = true;
		return 0;
	case OPT_APPLY_NO_MONITOR: c->o.no_monitor = true; return 0;
	case OPT_APPLY_BLACKHOLE: c->o.blackhole = true; return 0;
	case OPT_APPLY_STATE_DIR: c->state_dir = arg; return 0;
	case OPT_APPLY_SHAPE:
		if (strcmp(arg, "nexthop") && strcmp(arg, "classic")) {
			log_err("--route-shape %s: not nexthop or classic", arg);
			return -1;
		}
		c->o.classic_routes = strcmp(arg, "classic") == 0;
		return 0;
	case OPT_APPLY_NETWORK:
		if (prefix_parse(arg, &c->network) == 0)
			return 0;
		log_err("--network %s: not a CIDR prefix", arg);
		return -1;
	}
	return 1;
}

int apply_cli_run(struct apply_cli *c, const struct apply_backend *be,
		  const char *notify_socket)
{
	int rc;

	c->o.sigfd = sig_init(0);
	if (c->o.sigfd < 0) {
		log_err("set up signals: %s", strerror(errno));
		return FL_ERR_OS;
	}
	c->o.synced = sd_notify_ready;
	c->o.synced_arg = (void *)notify_socket;
	apply_opts_read_env(&c->o, c->subnet_file, c->subnet_file_given, &c->network);
	c->o.state = state_new(c->state_dir, c->tool, true);
	state_set_str(c->o.state, "backend", be->name);
	if (c->o.devname[0][0])
		state_set_str(c->o.state, "device", c->o.devname[0]);
	rc = apply_main(be, &c->o);
	state_free(c->o.state);
	return rc;
}
