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
	OPT_UAPI_DIR, OPT_MTU, OPT_KEEPALIVE, OPT_PSK_FILE, OPT_CHECK, OPT_STALE, OPT_DEV6,
	OPT_PORT6, OPT_MODE, OPT_NETWORK6, OPT_PUBLIC_IP6, OPT_NO_WG_GO,
	OPT_STATE_DIR,
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
	{ "psk-file", required_argument, NULL, OPT_PSK_FILE },
	{ "dev6", required_argument, NULL, OPT_DEV6 },
	{ "port6", required_argument, NULL, OPT_PORT6 },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "network6", required_argument, NULL, OPT_NETWORK6 },
	{ "public-ipv6", required_argument, NULL, OPT_PUBLIC_IP6 },
	{ "no-wireguard-go", no_argument, NULL, OPT_NO_WG_GO },
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
		"                         [--iface=IF|ADDR] [--mtu=N] [--no-wireguard-go]\n"
		"       apply only:       [--mode=separate|auto|ipv4|ipv6] [--dev6=NAME]\n"
		"                         [--port6=N] [--network=CIDR] [--network6=CIDR]\n"
		"                         [--keepalive=SECS] [--psk-file=FILE] [--subnet-file=FILE]\n"
		"                         [--check-interval=SECS] [--stale-after=SECS]\n"
		"                         [--state-dir=DIR] [-v N]\n"
		"init reuses or makes a WireGuard device (flannel-wg, port 51820) and prints\n"
		"the lease's BackendData; apply reads lease events on stdin and keeps one peer\n"
		"per remote lease on flannel-wg (and flannel-wg-v6, port 51821, for IPv6).\n"
		"The key file is $WIREGUARD_KEY_FILE or /run/flannel/wgkey.\n"
		"See flannel-wireguard(1).\n");
}

static int num(const char *opt, const char *arg, long min, long max, long *v)
{
	if (cli_long(arg, min, max, v) == 0)
		return 0;
	log_err("--%s %s: not within %ld..%ld", opt, arg, min, max);
	return -1;
}

/* The PSK from a file (flanneld writes it 0600): never on a command line,
 * where ps shows it. */
static int read_psk(struct wg_opts *o, const char *path)
{
	char buf[256];
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	int bad = f ? ferror(f) : 1, saved = errno;

	if (f)
		fclose(f);
	if (bad) {
		log_err("--psk-file %s: %s", path, strerror(saved));
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	bad = wg_key_from_base64(buf, o->psk);
	explicit_bzero(buf, sizeof(buf));
	if (bad < 0) {
		log_err("--psk-file %s: not the base64 of a 32-byte key (wg genpsk makes one)", path);
		return -1;
	}
	o->has_psk = true;
	return 0;
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
	case OPT_PORT6:
		if (num("port6", arg, 1, 65535, &v) < 0)
			return -1;
		o->port6 = (uint16_t)v;
		return 0;
	case OPT_PSK_FILE:
		return read_psk(o, arg);
	case OPT_MODE:
		if (wg_mode_parse(arg, &o->mode) == 0)
			return 0;
		log_err("--mode %s: not separate, auto, ipv4 or ipv6", arg);
		return -1;
	case OPT_DEV6: o->dev6 = arg; return 0;
	case OPT_NO_WG_GO: o->wg_go = NULL; return 0;
	case OPT_PUBLIC_IP6: return 0;
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
	case OPT_NETWORK6:
		if (prefix_parse(arg, &o->network6) == 0 && o->network6.addr.family == AF_INET6)
			return 0;
		log_err("--network6 %s: not an IPv6 CIDR prefix", arg);
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
	struct wg_opts o = { .dev = "flannel-wg", .dev6 = "flannel-wg-v6", .uapi_dir = WG_UAPI_DIR,
			     .key_file = key && key[0] ? key : "/run/flannel/wgkey",
			     .port = WG_DEFAULT_PORT, .port6 = WG_DEFAULT_PORT_V6,
			     .wg_go = "wireguard-go", .subnet_file = "/run/flannel/subnet.env",
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
		return cli_exit_code(wg_run_init(&o));
	o.sigfd = sig_init(o.wg_go != NULL);
	if (o.sigfd < 0) {
		log_err("set up signals: %s", strerror(errno));
		return EX_OSERR;
	}
	o.synced = sd_notify_ready;
	o.synced_arg = getenv("NOTIFY_SOCKET");
	return cli_exit_code(wg_run_apply(&o));
}
