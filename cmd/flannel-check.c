/* flannel-check - diagnose this host's part of the overlay: one line per
 * check (ok, FAIL with what to do, SKIP with why), for the whole host or
 * for one PEER end to end.  See flannel-check(8). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/cli.h"
#include "base/log.h"
#include "check/check.h"
#include "etcd/etcd_cli.h"

enum {
	OPT_SUBNET_FILE = OPT_ETCD_LAST, OPT_PUBLIC_IP, OPT_JSON, OPT_PROBE_TIMEOUT,
	OPT_MAX_SKEW, OPT_IPTABLES, OPT_NFT, OPT_SKIP, OPT_STATE_DIR,
};

static const struct option options[] = {
	CLI_ETCD_OPTIONS,
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "probe-timeout", required_argument, NULL, OPT_PROBE_TIMEOUT },
	{ "max-skew", required_argument, NULL, OPT_MAX_SKEW },
	{ "iptables", required_argument, NULL, OPT_IPTABLES },
	{ "nft", required_argument, NULL, OPT_NFT },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-check [--etcd-endpoints=URLS] [--etcd-prefix=PREFIX]\n"
		"                     [--subnet-file=FILE] [--public-ip=ADDR] [--json]\n"
		"                     [--probe-timeout=MS] [--max-skew=S] [--skip=CHECK,...]\n"
		"                     [--iptables=PROG] [--nft=PROG] [--state-dir=DIR]\n"
		"                     [-v N] [PEER]\n"
		"Checks this host's part of the overlay, or one PEER (a subnet or a public\n"
		"IP) end to end: one line per check, ok, FAIL with what to do, or SKIP.\n"
		"Exit 0: all ok; 1: a check failed.  See flannel-check(8).\n%s",
		cli_etcd_usage);
}

static int parse_one(struct check_opts *o, struct cli_etcd *ce, int opt, const char *arg)
{
	long v;
	int r;

	switch (opt) {
	case OPT_SUBNET_FILE: o->subnet_file = arg; return 0;
	case OPT_PUBLIC_IP: o->public_ip = arg; return 0;
	case OPT_JSON: o->json = true; return 0;
	case OPT_IPTABLES: o->iptables = arg; return 0;
	case OPT_NFT: o->nft = arg; return 0;
	case OPT_SKIP: o->skip = arg; return 0;
	case OPT_STATE_DIR: o->state_dir = arg; return 0;
	case OPT_PROBE_TIMEOUT:
	case OPT_MAX_SKEW:
		if (cli_long(arg, opt == OPT_MAX_SKEW ? 0 : 1, opt == OPT_MAX_SKEW ? 86400 : 60000,
			     &v) < 0) {
			log_err("--%s=%s: not a number of %s within range",
				opt == OPT_MAX_SKEW ? "max-skew" : "probe-timeout", arg,
				opt == OPT_MAX_SKEW ? "seconds" : "milliseconds");
			return -1;
		}
		*(opt == OPT_MAX_SKEW ? &o->max_skew_s : &o->probe_ms) = v;
		return 0;
	default:
		r = cli_etcd_option(ce, opt, arg);
		if (r)
			return r < 0 ? -1 : 0;
		r = cli_common_option(opt, arg, "flannel-check", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

int main(int argc, char **argv)
{
	struct check_opts o;
	struct cli_etcd ce;
	int opt;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	check_opts_init(&o);
	o.state_dir = getenv("FLANNELD_STATE_DIR");
	cli_etcd_init(&ce);
	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&o, &ce, opt, optarg) < 0) {
			usage(stderr);
			return EX_USAGE;
		}
	if (optind < argc)
		o.peer = argv[optind++];
	if (optind < argc) {
		log_err("unexpected argument: %s (one PEER at most)", argv[optind]);
		return EX_USAGE;
	}
	o.etcd = ce.opts;
	o.prefix = ce.prefix;
	return cli_exit_code(check_run(&o));
}
