/* flannel-route - the host-gw backend: a route to each remote subnet via the
 * remote's public IP, for remotes on our own layer-2 network only. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "apply/apply_cli.h"
#include "backend/backend.h"
#include "base/cli.h"
#include "base/caps.h"
#include "base/log.h"
#include "netlink/iface.h"

enum {
	OPT_IFACE = 1, OPT_PUBLIC_IP, OPT_PUBLIC_IPV6,
};

static const struct option options[] = {
	{ "iface", required_argument, NULL, OPT_IFACE },
	APPLY_CLI_OPTIONS,
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "public-ipv6", required_argument, NULL, OPT_PUBLIC_IPV6 },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-route apply [--iface=IF|ADDR] [--subnet-file=FILE]\n"
		"                           [--network=CIDR] [--route-shape=nexthop|classic]\n"
		"                           [--no-monitor] [--blackhole-route] [-v N]\n"
		"Reads lease events on stdin; routes each remote host-gw subnet via the\n"
		"remote's public IP.  See flannel-route(1).\n");
}

struct args {
	const char *iface;
	struct apply_cli ac;
};

static int parse_one(struct args *a, int opt, const char *arg)
{
	int r;

	switch (opt) {
	case OPT_IFACE: a->iface = arg; return 0;
	case OPT_PUBLIC_IP:
	case OPT_PUBLIC_IPV6:
		return 0; /* accepted for flanneld's sake: the remotes' IPs are what matter */
	default:
		r = apply_cli_option(&a->ac, opt, arg);
		if (r <= 0)
			return r;
		r = cli_common_option(opt, arg, "flannel-route", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct iface ifc;
	int opt, rc = 0;

	apply_cli_init(&a.ac, "flannel-route", getenv("FLANNELD_STATE_DIR"));
	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version")))
		return parse_one(&a, argv[1][2] == 'h' ? OPT_CLI_HELP : OPT_CLI_VERSION, NULL);
	if (argc < 2 || strcmp(argv[1], "apply") != 0) {
		usage(stderr);
		return EX_USAGE;
	}
	optind = 2;
	while (!rc && (opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&a, opt, optarg) < 0)
			rc = EX_USAGE;
	if (!rc && optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		rc = EX_USAGE;
	}
	if (!rc)
		rc = cli_exit_code(caps_need_net_admin("apply"));
	if (rc)
		return rc;
	if (a.iface) {
		if (iface_lookup(a.iface, AF_INET, &ifc) < 0 &&
		    iface_lookup(a.iface, AF_INET6, &ifc) < 0) {
			log_err("find interface %s: no such interface or address", a.iface);
			return EX_CONFIG;
		}
		a.ac.o.iface = ifc.index;
	}
	return cli_exit_code(apply_cli_run(&a.ac, backend_hostgw.plan, getenv("NOTIFY_SOCKET")));
}
