/* flannel-udp - the udp backend: flannel0, and lease events on stdin into
 * the forwarding table of its packet threads. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/cli.h"
#include "base/log.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "udp/udp_run.h"

enum {
	OPT_PORT = 1, OPT_IFACE, OPT_SUBNET_FILE, OPT_NETWORK, OPT_STATS, OPT_PUBLIC_IP,
	OPT_STATE_DIR,
};

static const struct option options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "stats-file", required_argument, NULL, OPT_STATS },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-udp apply [--port=N] [--iface=IF|ADDR] [--subnet-file=FILE]\n"
		"                         [--network=CIDR] [--stats-file=FILE] [--state-dir=DIR]\n"
		"                         [-v N]\n"
		"Counters go to --stats-file (default: the subnet file's name + .udp-stats).\n"
		"Creates flannel0 and carries IPv4 packets to the other hosts in UDP\n"
		"datagrams (port 8285 by default), as upstream's udp backend; reads lease\n"
		"events on stdin.  See flannel-udp(1).\n");
}

static int parse_one(struct udp_opts *o, int opt, const char *arg)
{
	long v;
	int r;

	switch (opt) {
	case OPT_PORT:
		if (cli_long(arg, 1, 65535, &v) < 0) {
			log_err("--port %s: not within 1..65535", arg);
			return -1;
		}
		o->port = (uint16_t)v;
		return 0;
	case OPT_IFACE: o->iface = arg; return 0;
	case OPT_SUBNET_FILE:
		o->subnet_file = arg;
		o->subnet_file_given = true;
		return 0;
	case OPT_STATS: o->stats_file = arg; return 0;
	case OPT_STATE_DIR: o->state_dir = arg; return 0;
	case OPT_PUBLIC_IP: return 0; /* accepted for flanneld's sake: peers use their own */
	case OPT_NETWORK:
		if (prefix_parse(arg, &o->network) == 0 && o->network.addr.family == AF_INET)
			return 0;
		log_err("--network %s: not an IPv4 CIDR prefix", arg);
		return -1;
	default:
		r = cli_common_option(opt, arg, "flannel-udp", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

int main(int argc, char **argv)
{
	struct udp_opts o = { .port = UDP_DEFAULT_PORT, .subnet_file = "/run/flannel/subnet.env",
			      .state_dir = getenv("FLANNELD_STATE_DIR") };
	char stats[512];
	int opt;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version")))
		return parse_one(&o, argv[1][2] == 'h' ? OPT_CLI_HELP : OPT_CLI_VERSION, NULL);
	if (argc < 2 || strcmp(argv[1], "apply") != 0) {
		usage(stderr);
		return EX_USAGE;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&o, opt, optarg) < 0)
			return EX_USAGE;
	if (optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		return EX_USAGE;
	}
	/* The counters next to the subnet file, unique per network; "" for none. */
	if (!o.stats_file && snprintf(stats, sizeof(stats), "%s.udp-stats", o.subnet_file) <
				     (int)sizeof(stats))
		o.stats_file = stats;
	else if (o.stats_file && !o.stats_file[0])
		o.stats_file = NULL;
	o.sigfd = sig_init(0);
	if (o.sigfd < 0) {
		log_err("set up signals: %s", strerror(errno));
		return EX_OSERR;
	}
	o.synced = sd_notify_ready;
	o.synced_arg = getenv("NOTIFY_SOCKET");
	return cli_exit_code(udp_run(&o));
}
