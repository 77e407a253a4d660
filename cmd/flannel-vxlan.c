/* flannel-vxlan - the VXLAN backend: init (device, BackendData), setup
 * (device address from subnet.env), apply (lease events into the kernel). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "apply/apply_cli.h"
#include "backend/backend.h"
#include "backend/vxlan.h"
#include "base/cli.h"
#include "base/caps.h"
#include "base/log.h"
#include "model/env.h"

enum {
	OPT_VNI = 1, OPT_PORT, OPT_GBP, OPT_LEARNING, OPT_MTU, OPT_MAC_PREFIX, OPT_MAC,
	OPT_IFACE, OPT_PUBLIC_IP, OPT_PUBLIC_IPV6, OPT_IPV6, OPT_DIRECT, OPT_NO_SETUP,
	OPT_BACKEND,
};

static const struct option options[] = {
	{ "vni", required_argument, NULL, OPT_VNI },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "gbp", optional_argument, NULL, OPT_GBP },
	{ "learning", optional_argument, NULL, OPT_LEARNING },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "mac-prefix", required_argument, NULL, OPT_MAC_PREFIX },
	{ "mac", required_argument, NULL, OPT_MAC },
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "public-ipv6", required_argument, NULL, OPT_PUBLIC_IPV6 },
	{ "ipv6", no_argument, NULL, OPT_IPV6 },
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
		"usage: flannel-vxlan init [--vni=N] [--port=N] [--gbp] [--learning] [--mtu=N]\n"
		"                          [--mac-prefix=XX-XX] [--mac=MAC] [--iface=IF|ADDR]\n"
		"                          [--public-ip=IP] [-6 [--public-ipv6=IP]]\n"
		"       flannel-vxlan setup [--vni=N] [--subnet-file=FILE]\n"
		"       flannel-vxlan apply [--vni=N] [--direct-routing] [--subnet-file=FILE]\n"
		"                           [--network=CIDR] [--no-setup]\n"
		"                           [--route-shape=nexthop|classic] [--no-monitor]\n"
		"                           [--blackhole-route]\n"
		"Every command also takes --backend-config=JSON (the network config's\n"
		"Backend object: VNI, Port, GBP, Learning, DirectRouting, MTU, MacPrefix).\n"
		"init creates flannel.<VNI> (flannel-v6.<VNI> with -6) and prints BackendData;\n"
		"setup gives it our subnet's address; apply reads lease events on stdin.\n"
		"See flannel-vxlan(1).\n");
}

struct args {
	const char *cmd;
	struct vxlan_conf conf;
	struct vxlan_apply ap;
	struct ipaddr pub4, pub6;
	struct apply_cli ac; /* subnet_file also for setup */
};

static int bad(const char *opt, const char *arg, const char *why)
{
	log_err("%s %s: %s", opt, arg ? arg : "", why);
	return -1;
}

static int parse_addr_opts(struct args *a, int opt, const char *arg)
{
	struct ipaddr ip;

	switch (opt) {
	case OPT_IFACE:
		a->conf.iface = arg;
		return 0;
	case OPT_PUBLIC_IP:
	case OPT_PUBLIC_IPV6:
		if (addr_parse_family(arg, opt == OPT_PUBLIC_IP ? AF_INET : AF_INET6, &ip) < 0)
			return bad(opt == OPT_PUBLIC_IP ? "--public-ip" : "--public-ipv6", arg,
				   "not an address of that family");
		*(opt == OPT_PUBLIC_IP ? &a->pub4 : &a->pub6) = ip;
		return 0;
	case OPT_MAC:
		if (mac_parse(arg, a->conf.mac) < 0 || (a->conf.mac[0] & 1))
			return bad("--mac", arg, "not a unicast MAC address");
		a->conf.has_mac = true;
		return 0;
	case OPT_MAC_PREFIX:
		if (mac_prefix_parse(arg, a->conf.mac_prefix, &a->conf.mac_prefix_len) < 0 ||
		    (a->conf.mac_prefix[0] & 1))
			return bad("--mac-prefix", arg, "not 1 to 5 unicast MAC bytes (0E-2A)");
		return 0;
	case OPT_BACKEND: {
		char err[200];

		if (vxlan_conf_parse_backend(arg, &a->conf, &a->ap, err, sizeof(err)) < 0) {
			log_err("parse --backend-config: %s", err);
			return -2;
		}
		return 0;
	}
	}
	return apply_cli_option(&a->ac, opt, arg);
}

static int parse_one(struct args *a, int opt, const char *arg)
{
	long v;
	bool b;

	switch (opt) {
	case OPT_VNI:
		if (cli_long(arg, 0, VXLAN_VNI_MAX, &v) < 0)
			return bad("--vni", arg, "not within 0..16777215");
		a->conf.vni = (uint32_t)v;
		return 0;
	case OPT_PORT:
		if (cli_long(arg, 0, 65535, &v) < 0)
			return bad("--port", arg, "not within 0..65535");
		a->conf.port = (uint16_t)v;
		return 0;
	case OPT_MTU:
		if (cli_long(arg, 0, 65535, &v) < 0 || (v && v < 1280))
			return bad("--mtu", arg, "not within 1280..65535");
		a->conf.mtu = (unsigned)v;
		return 0;
	case OPT_GBP:
	case OPT_LEARNING:
	case OPT_DIRECT:
		if (cli_bool(arg, &b) < 0)
			return bad("boolean option", arg, "not true or false");
		*(opt == OPT_GBP ? &a->conf.gbp :
		  opt == OPT_LEARNING ? &a->conf.learning : &a->ap.direct_routing) = b;
		return 0;
	case OPT_IPV6: a->conf.ipv6 = true; return 0;
	case OPT_NO_SETUP: a->ap.setup = false; return 0;
	case 'v':
	case OPT_CLI_VERSION:
	case OPT_CLI_HELP:
		v = cli_common_option(opt, arg, "flannel-vxlan", usage);
		if (v > 0)
			exit(0);
		return (int)v;
	}
	v = parse_addr_opts(a, opt, arg);
	if (v == 1)
		usage(stderr);
	return v == 1 ? -1 : (int)v;
}

static int exit_code(int err)
{
	switch (-err) {
	case 0: return 0;
	case EPERM:
	case EACCES: return EX_NOPERM;
	case ENODEV:
	case EADDRNOTAVAIL: return EX_CONFIG;
	case ENOMEM: return EX_OSERR;
	default: return EXIT_FAILURE;
	}
}

static int cmd_init(struct args *a, struct nl *nl)
{
	struct nl_link link;
	char *data;
	int rc = vxlan_init(nl, &a->conf, &link);

	if (rc < 0)
		return exit_code(rc);
	data = vxlan_backend_data(a->conf.vni, link.mac);
	if (!data) {
		log_err("format BackendData: out of memory");
		return EX_OSERR;
	}
	rc = printf("%s\n", data) < 0 || fflush(stdout) == EOF ? EX_IOERR : 0;
	if (rc)
		log_err("write BackendData: %s", strerror(errno));
	free(data);
	return rc;
}

static int cmd_setup(struct args *a, struct nl *nl)
{
	struct subnet_env env;
	int done = 0;

	if (env_read(a->ac.subnet_file, &env) < 0) {
		log_err("read %s: %s", a->ac.subnet_file, strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	for (int v6 = 0; v6 < 2; v6++) {
		const struct prefix *s = v6 ? &env.subnet6 : &env.subnet;
		struct nl_link link;
		char name[IFNAMSIZ];
		int rc;

		if (!s->addr.family)
			continue;
		vxlan_devname(a->conf.vni, v6, name, sizeof(name));
		rc = nl_link_get(nl, name, 0, &link);
		if (rc < 0) {
			log_err("find %s: %s (run flannel-vxlan init first)", name,
				nl_strerror(nl, rc));
			return EX_UNAVAILABLE;
		}
		rc = vxlan_setup(nl, link.ifindex, s, link.mac);
		if (rc < 0)
			return exit_code(rc);
		done++;
	}
	if (!done) {
		log_err("read %s: no FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET", a->ac.subnet_file);
		return EX_DATAERR;
	}
	return 0;
}

/* The devices to program: whichever of flannel.<VNI>, flannel-v6.<VNI> exist. */
static int find_devices(struct args *a, struct nl *nl, struct apply_opts *o)
{
	for (int v6 = 0; v6 < 2; v6++) {
		struct nl_link link;

		vxlan_devname(a->conf.vni, v6, o->devname[v6], sizeof(o->devname[v6]));
		if (nl_link_get(nl, o->devname[v6], 0, &link) == 0) {
			o->dev[v6] = link.ifindex;
			o->dev_seen[v6] = true;
		}
	}
	if (!o->dev[0] && !o->dev[1]) {
		log_err("find %s: no such device (run flannel-vxlan init first)", o->devname[0]);
		return EX_UNAVAILABLE;
	}
	return 0;
}

static int cmd_apply(struct args *a, struct nl *nl)
{
	struct apply_backend be = *backend_vxlan.plan;
	int rc = find_devices(a, nl, &a->ac.o);

	if (rc)
		return rc;
	be.data = &a->ap;
	return cli_exit_code(apply_cli_run(&a->ac, &be, getenv("NOTIFY_SOCKET")));
}

int main(int argc, char **argv)
{
	struct args a = { .conf = { .vni = 1 }, .ap = { .setup = true } };
	struct nl *nl;
	int opt, rc = 0;

	apply_cli_init(&a.ac, "flannel-vxlan", getenv("FLANNELD_STATE_DIR"));
	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
			printf("flannel-vxlan %s\n", FLANNEL_VERSION);
			return 0;
		}
		usage(stderr);
		return EX_USAGE;
	}
	a.cmd = argv[1];
	optind = 2;
	while (!rc && (opt = getopt_long(argc, argv, "6v:", options, NULL)) != -1) {
		int r = parse_one(&a, opt == '6' ? OPT_IPV6 : opt, optarg);

		rc = r == -2 ? EX_CONFIG : r < 0 ? EX_USAGE : 0;
	}
	if (!rc && optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		rc = EX_USAGE;
	}
	a.conf.public_ip = a.conf.ipv6 ? a.pub6 : a.pub4;
	if (!rc && strcmp(a.cmd, "init") && strcmp(a.cmd, "setup") && strcmp(a.cmd, "apply")) {
		log_err("unknown command: %s", a.cmd);
		usage(stderr);
		rc = EX_USAGE;
	}
	if (!rc)
		rc = cli_exit_code(caps_need_net_admin(a.cmd));
	if (rc)
		return rc;
	nl = nl_open();
	if (!nl) {
		log_err("open a netlink socket: %s", strerror(errno));
		return errno == EPERM || errno == EACCES ? EX_NOPERM : EX_OSERR;
	}
	if (strcmp(a.cmd, "init") == 0)
		rc = cmd_init(&a, nl);
	else if (strcmp(a.cmd, "setup") == 0)
		rc = cmd_setup(&a, nl);
	else
		rc = cmd_apply(&a, nl);
	nl_close(nl);
	return rc;
}
