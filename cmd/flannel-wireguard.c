/* flannel-wireguard - the wireguard backend: init makes or reuses the
 * WireGuard device and prints the lease's BackendData; apply turns lease
 * events on stdin into its peers. */
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
#include "wg/wg_run.h"

enum {
	OPT_PORT = 1, OPT_IFACE, OPT_SUBNET_FILE, OPT_NETWORK, OPT_PUBLIC_IP, OPT_DEV,
	OPT_UAPI_DIR, OPT_MTU, OPT_KEEPALIVE, OPT_PSK, OPT_CHECK, OPT_STALE, OPT_STATE_DIR,
};

static const struct option options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "dev", required_argument, NULL, OPT_DEV },
	{ "uapi-dir", required_argument, NULL, OPT_UAPI_DIR },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "psk", required_argument, NULL, OPT_PSK },
	{ "check-interval", required_argument, NULL, OPT_CHECK },
	{ "stale-after", required_argument, NULL, OPT_STALE },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-wireguard init|apply [--port=N] [--dev=NAME] [--uapi-dir=DIR]\n"
		"                         [--iface=IF|ADDR] [--mtu=N] [--keepalive=SECS]\n"
		"                         [--psk=BASE64] [--subnet-file=FILE] [--network=CIDR]\n"
		"                         [--check-interval=SECS] [--stale-after=SECS]\n"
		"                         [--state-dir=DIR] [-v N]\n"
		"init reuses or makes the WireGuard device (flannel-wg, port 51820) and prints\n"
		"the lease's BackendData; apply reads lease events on stdin and keeps one peer\n"
		"per remote lease.  The key file is $WIREGUARD_KEY_FILE or /run/flannel/wgkey.\n"
		"See flannel-wireguard(1).\n");
}

static int num(const char *opt, const char *arg, long min, long max, long *v)
{
	if (cli_long(arg, min, max, v) == 0)
		return 0;
	log_err("--%s %s: not within %ld..%ld", opt, arg, min, max);
	return -1;
}

static int parse_one(struct wg_opts *o, int opt, const char *arg)
{
	long v;
	int r;

	switch (opt) {
	case OPT_PORT:
		if (num("port", arg, 1, 65535, &v) < 0)
			return -1;
		o->port = (uint16_t)v;
		return 0;
	case OPT_MTU:
		if (num("mtu", arg, 0, 65535, &v) < 0)
			return -1;
		o->mtu = (unsigned)v;
		return 0;
	case OPT_KEEPALIVE:
		if (num("keepalive", arg, 0, 65535, &v) < 0)
			return -1;
		o->keepalive = (uint16_t)v;
		return 0;
	case OPT_CHECK:
		if (num("check-interval", arg, 1, 3600, &v) < 0)
			return -1;
		o->check_secs = (unsigned)v;
		return 0;
	case OPT_STALE:
		if (num("stale-after", arg, 1, 86400, &v) < 0)
			return -1;
		o->stale_secs = (unsigned)v;
		return 0;
	case OPT_PSK:
		if (wg_key_from_base64(arg, o->psk) < 0) {
			log_err("--psk: not the base64 of a 32-byte key (wg genpsk makes one)");
			return -1;
		}
		o->has_psk = true;
		return 0;
	case OPT_IFACE: o->iface = arg; return 0;
	case OPT_DEV: o->dev = arg; return 0;
	case OPT_STATE_DIR: o->state_dir = arg; return 0;
	case OPT_UAPI_DIR: o->uapi_dir = arg; return 0;
	case OPT_SUBNET_FILE:
		o->subnet_file = arg;
		o->subnet_file_given = true;
		return 0;
	case OPT_PUBLIC_IP: return 0; /* accepted for flanneld's sake: peers use their own */
	case OPT_NETWORK:
		if (prefix_parse(arg, &o->network) == 0 && o->network.addr.family == AF_INET)
			return 0;
		log_err("--network %s: not an IPv4 CIDR prefix", arg);
		return -1;
	default:
		r = cli_common_option(opt, arg, "flannel-wireguard", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

int main(int argc, char **argv)
{
	const char *key = getenv("WIREGUARD_KEY_FILE");
	struct wg_opts o = { .dev = "flannel-wg", .uapi_dir = WG_UAPI_DIR,
			     .key_file = key && key[0] ? key : "/run/flannel/wgkey",
			     .port = WG_DEFAULT_PORT, .subnet_file = "/run/flannel/subnet.env",
			     .state_dir = getenv("FLANNELD_STATE_DIR"),
			     .check_secs = 10, .stale_secs = 180 };
	bool init;
	int opt;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version")))
		return parse_one(&o, argv[1][2] == 'h' ? OPT_CLI_HELP : OPT_CLI_VERSION, NULL);
	if (argc < 2 || (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "apply") != 0)) {
		usage(stderr);
		return EX_USAGE;
	}
	init = !strcmp(argv[1], "init");
	optind = 2;
	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&o, opt, optarg) < 0)
			return EX_USAGE;
	if (optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		return EX_USAGE;
	}
	if (init)
		return wg_run_init(&o);
	o.sigfd = sig_init(0);
	if (o.sigfd < 0) {
		log_err("set up signals: %s", strerror(errno));
		return EX_OSERR;
	}
	o.synced = sd_notify_ready;
	o.synced_arg = getenv("NOTIFY_SOCKET");
	return wg_run_apply(&o);
}
