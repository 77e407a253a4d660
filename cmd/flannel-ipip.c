/* flannel-ipip - the ipip backend: init (the flannel.ipip device), apply
 * (lease events into routes through it). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "apply/apply_cli.h"
#include "backend/backend.h"
#include "backend/ipip.h"
#include "base/cli.h"
#include "base/log.h"

enum {
	OPT_IFACE = 1, OPT_PUBLIC_IP, OPT_DIRECT, OPT_NO_SETUP, OPT_BACKEND,
};

static const struct option options[] = {
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "direct-routing", optional_argument, NULL, OPT_DIRECT },
	{ "no-setup", no_argument, NULL, OPT_NO_SETUP },
	{ "backend-config", required_argument, NULL, OPT_BACKEND },
	APPLY_CLI_OPTIONS,
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-ipip init [--iface=IF|ADDR] [--public-ip=IP] [-v N]\n"
		"       flannel-ipip apply [--direct-routing] [--subnet-file=FILE]\n"
		"                          [--network=CIDR] [--no-setup]\n"
		"                          [--route-shape=nexthop|classic] [--no-monitor]\n"
		"                          [--blackhole-route] [--backend-config=JSON] [-v N]\n"
		"init creates flannel.ipip (IP-in-IP, MTU of the underlay less 20);\n"
		"apply reads lease events on stdin and routes each remote subnet via\n"
		"the remote's public IP through it.  See flannel-ipip(1).\n");
}

struct args {
	const char *iface;
	struct ipaddr public_ip;
	struct ipip_apply ap;
	struct apply_cli ac;
};

static int bad(const char *opt, const char *arg, const char *why)
{
	log_err("%s %s: %s", opt, arg, why);
	return -1;
}

/* 0, -1 (usage), -2 (bad configuration). */
static int parse_one(struct args *a, int opt, const char *arg)
{
	char err[200];
	int r;

	switch (opt) {
	case OPT_IFACE: a->iface = arg; return 0;
	case OPT_PUBLIC_IP:
		if (addr_parse_family(arg, AF_INET, &a->public_ip) < 0)
			return bad("--public-ip", arg, "not an IPv4 address");
		return 0;
	case OPT_DIRECT:
		if (cli_bool(arg, &a->ap.direct_routing) < 0)
			return bad("--direct-routing", arg, "not true or false");
		return 0;
	case OPT_NO_SETUP: a->ap.setup = false; return 0;
	case OPT_BACKEND:
		if (ipip_conf_parse_backend(arg, &a->ap, err, sizeof(err)) < 0) {
			log_err("parse --backend-config: %s", err);
			return -2;
		}
		return 0;
	default:
		r = apply_cli_option(&a->ac, opt, arg);
		if (r <= 0)
			return r;
		r = cli_common_option(opt, arg, "flannel-ipip", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

static int cmd_init(struct args *a, struct nl *nl)
{
	struct nl_link link;
	int rc = ipip_init(nl, a->iface, &a->public_ip, &link);

	switch (-rc) {
	case 0: return 0; /* no BackendData: upstream's ipip lease has none */
	case EOPNOTSUPP: return EX_UNAVAILABLE;
	case EPERM:
	case EACCES: return EX_NOPERM;
	case ENODEV:
	case EEXIST: return EX_CONFIG;
	default: return EXIT_FAILURE;
	}
}

static int cmd_apply(struct args *a, struct nl *nl)
{
	struct apply_backend be = *backend_ipip.plan;
	struct nl_link link;
	int rc;

	snprintf(a->ac.o.devname[0], sizeof(a->ac.o.devname[0]), "%s", IPIP_DEVNAME);
	rc = nl_link_get(nl, IPIP_DEVNAME, 0, &link);
	if (rc < 0) {
		log_err("find %s: %s (run flannel-ipip init first)", IPIP_DEVNAME,
			nl_strerror(nl, rc));
		return EX_UNAVAILABLE;
	}
	a->ac.o.dev[0] = link.ifindex;
	a->ac.o.dev_seen[0] = true;
	be.data = &a->ap;
	return cli_exit_code(apply_cli_run(&a->ac, &be, getenv("NOTIFY_SOCKET")));
}

int main(int argc, char **argv)
{
	struct args a = { .ap = { .setup = true } };
	struct nl *nl;
	int opt, rc = 0;

	apply_cli_init(&a.ac, "flannel-ipip", getenv("FLANNELD_STATE_DIR"));
	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version")))
		return parse_one(&a, argv[1][2] == 'h' ? OPT_CLI_HELP : OPT_CLI_VERSION, NULL);
	if (argc < 2 || (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "apply") != 0)) {
		if (argc >= 2 && argv[1][0] != '-')
			log_err("unknown command: %s", argv[1]);
		usage(stderr);
		return EX_USAGE;
	}
	optind = 2;
	while (!rc && (opt = getopt_long(argc, argv, "v:", options, NULL)) != -1) {
		int r = parse_one(&a, opt, optarg);

		rc = r == -2 ? EX_CONFIG : r < 0 ? EX_USAGE : 0;
	}
	if (!rc && optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		rc = EX_USAGE;
	}
	if (rc)
		return rc;
	nl = nl_open();
	if (!nl) {
		log_err("open a netlink socket: %s", strerror(errno));
		return errno == EPERM || errno == EACCES ? EX_NOPERM : EX_OSERR;
	}
	rc = strcmp(argv[1], "init") == 0 ? cmd_init(&a, nl) : cmd_apply(&a, nl);
	nl_close(nl);
	return rc;
}
