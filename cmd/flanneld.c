/* flanneld - upstream flanneld's command line over the flannel-* pieces. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/cli.h"
#include "base/log.h"
#include "base/sig.h"
#include "flanneld/flanneld.h"

extern char **environ;

enum {
	OPT_IFACE = 1, OPT_IFACE_REGEX, OPT_IFACE_CAN_REACH, OPT_PUBLIC_IP, OPT_PUBLIC_IPV6,
	OPT_SUBNET_FILE, OPT_SUBNET_DIR, OPT_NETWORKS, OPT_MARGIN, OPT_IP_MASQ,
	OPT_FULLY_RANDOM, OPT_FORWARD_RULES, OPT_RESYNC, OPT_BLACKHOLE, OPT_HEALTHZ_IP,
	OPT_HEALTHZ_PORT, OPT_LISTEN, OPT_KUBE, OPT_BIN_DIR,
	OPT_IGNORED, OPT_DRY_RUN, OPT_VERSION, OPT_HELP, OPT_EXT_PASS_ENV, OPT_ROUTE_SHAPE,
	OPT_STATE_DIR, OPT_METRICS_ADDR,
};

static const struct option options[] = {
	CLI_ETCD_OPTIONS,
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "iface-regex", required_argument, NULL, OPT_IFACE_REGEX },
	{ "iface-can-reach", required_argument, NULL, OPT_IFACE_CAN_REACH },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "public-ipv6", required_argument, NULL, OPT_PUBLIC_IPV6 },
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "subnet-dir", required_argument, NULL, OPT_SUBNET_DIR },
	{ "networks", required_argument, NULL, OPT_NETWORKS },
	{ "subnet-lease-renew-margin", required_argument, NULL, OPT_MARGIN },
	{ "ip-masq", optional_argument, NULL, OPT_IP_MASQ },
	{ "ip-masq-fully-random-disable", optional_argument, NULL, OPT_FULLY_RANDOM },
	{ "iptables-forward-rules", optional_argument, NULL, OPT_FORWARD_RULES },
	{ "iptables-resync", required_argument, NULL, OPT_RESYNC },
	{ "ip-blackhole-route", optional_argument, NULL, OPT_BLACKHOLE },
	{ "healthz-ip", required_argument, NULL, OPT_HEALTHZ_IP },
	{ "healthz-port", required_argument, NULL, OPT_HEALTHZ_PORT },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "metrics-addr", required_argument, NULL, OPT_METRICS_ADDR },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	CLI_REMOTE_OPTIONS,
	{ "kube-subnet-mgr", optional_argument, NULL, OPT_KUBE },
	{ "kube-api-url", required_argument, NULL, OPT_KUBE },
	{ "kube-annotation-prefix", required_argument, NULL, OPT_KUBE },
	{ "kubeconfig-file", required_argument, NULL, OPT_KUBE },
	{ "net-config-path", required_argument, NULL, OPT_KUBE },
	{ "set-node-network-unavailable", optional_argument, NULL, OPT_KUBE },
	{ "bin-dir", required_argument, NULL, OPT_BIN_DIR },
	{ "extension-pass-env", required_argument, NULL, OPT_EXT_PASS_ENV },
	{ "route-shape", required_argument, NULL, OPT_ROUTE_SHAPE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "vmodule", required_argument, NULL, OPT_IGNORED },
	{ "log_backtrace_at", required_argument, NULL, OPT_IGNORED },
	{ "v", required_argument, NULL, 'v' },
	{ "version", optional_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "h", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flanneld [options]\n"
		"Join the flannel overlay network: lease a subnet and program the kernel.\n\n"
		"  --iface=NAME|IP              interface to use (repeatable; first match wins)\n"
		"  --iface-regex=REGEX          interface by regex on addresses, then names (repeatable)\n"
		"  --iface-can-reach=IP         the interface of the route to IP\n"
		"  --public-ip=IP, --public-ipv6=IP  address other hosts reach us at\n"
		"  --subnet-file=FILE           default /run/flannel/subnet.env\n"
		"  --networks=A,B               multi-network mode: <prefix>/A/config, ...\n"
		"  --subnet-dir=DIR             env files of multi-network mode (/run/flannel/networks)\n"
		"  --subnet-lease-renew-margin=MINUTES  (default 60)\n"
		"  --ip-masq[=BOOL]             masquerade traffic leaving the overlay\n"
		"  --ip-masq-fully-random-disable[=BOOL]\n"
		"  --iptables-forward-rules[=BOOL]  accept forwarding of overlay traffic (true)\n"
		"  --ip-blackhole-route[=BOOL]  blackhole route for our own subnet\n"
		"  --route-shape=nexthop|classic  routes of vxlan and host-gw (default nexthop;\n"
		"                               classic: upstream's plain routes)\n"
		"  --iptables-resync=SECONDS    accepted; rules are restored on change instead\n"
		"  --healthz-ip=IP, --healthz-port=PORT  serve /healthz and /readyz (port 0: off)\n"
		"  --metrics-addr=IP:PORT       serve /metrics (Prometheus; [IPv6]:PORT too)\n"
		"  --state-dir=DIR              the pieces' state files (/run/flannel/state)\n"
		"  --bin-dir=DIR                where the flannel-* pieces are\n"
		"  --extension-pass-env=NAMES   variables (comma list) the extension commands get\n"
		"  --listen=ADDR                server mode: run flannel-server on ADDR\n"
		"                               (HOST:PORT, tcp://HOST:PORT, fd://, fd://N)\n"
		"  --remote=HOST:PORT[,...]     client mode: lease and watch through flannel-servers\n"
		"  --remote-cafile, --remote-certfile, --remote-keyfile=FILE  TLS of client/server mode\n"
		"  --dry-run                    print the pieces' command lines, run nothing\n"
		"  -v=N                         verbosity\n"
		"  --version                    print the version and exit\n%s",
		cli_etcd_usage);
	fprintf(f, "\nBackends (the network config's Backend.Type):\n");
	for (int i = 0; backend_table[i]; i++)
		fprintf(f, "  %-12s %s\n", backend_table[i]->name, backend_table[i]->about);
}

static int add_list(const char **list, int *n, const char *arg, const char *flag)
{
	if (*n >= FLANNELD_MAX_LIST) {
		log_err("--%s given more than %d times", flag, FLANNELD_MAX_LIST);
		return -1;
	}
	list[(*n)++] = arg;
	return 0;
}

static int set_bool(bool *out, const char *arg, const char *flag)
{
	if (cli_bool(arg, out) == 0)
		return 0;
	log_err("--%s=%s: not true or false", flag, arg);
	return -1;
}

static int refuse(const char *name)
{
	log_err("--%s: Kubernetes mode is not supported by this flanneld (etcd only)", name);
	return -1;
}

/* IP:PORT or [IPv6]:PORT; the address is checked when it is opened. */
static int parse_metrics_addr(struct flanneld_opts *o, const char *arg)
{
	static char ip[64];
	const char *colon = strrchr(arg, ':');
	const char *host = arg;
	size_t n;
	long port;

	if (colon && arg[0] == '[' && colon > arg && colon[-1] == ']') {
		host = arg + 1;
		n = (size_t)(colon - 1 - host);
	} else {
		n = colon ? (size_t)(colon - arg) : 0;
	}
	if (!colon || n == 0 || n >= sizeof(ip) || cli_long(colon + 1, 1, 65535, &port) < 0) {
		log_err("--metrics-addr %s: not IP:PORT or [IPv6]:PORT (port within 1..65535)", arg);
		return -1;
	}
	memcpy(ip, host, n);
	ip[n] = '\0';
	o->metrics_ip = ip;
	o->metrics_port = (unsigned)port;
	return 0;
}

static int parse_one(struct flanneld_opts *o, int opt, const char *arg, const char *name)
{
	long v;
	int r = cli_etcd_option(&o->etcd, opt, arg);

	if (r)
		return r < 0 ? -1 : 0;
	switch (opt) {
	case OPT_IFACE: return add_list(o->ifaces, &o->n_ifaces, arg, name);
	case OPT_IFACE_REGEX: return add_list(o->iface_regex, &o->n_regex, arg, name);
	case OPT_IFACE_CAN_REACH: o->can_reach = arg; return 0;
	case OPT_PUBLIC_IP: o->public_ip = arg; return 0;
	case OPT_PUBLIC_IPV6: o->public_ip6 = arg; return 0;
	case OPT_SUBNET_FILE: o->subnet_file = arg; return 0;
	case OPT_SUBNET_DIR: o->subnet_dir = arg; return 0;
	case OPT_EXT_PASS_ENV: o->ext_pass_env = arg; return 0;
	case OPT_NETWORKS: o->networks = arg; return 0;
	case OPT_MARGIN:
		if (cli_long(arg, 1, 1439, &v) == 0) {
			o->renew_margin = arg;
			return 0;
		}
		log_err("--subnet-lease-renew-margin %s: minutes within 1..1439", arg);
		return -1;
	case OPT_IP_MASQ: return set_bool(&o->ip_masq, arg, name);
	case OPT_FULLY_RANDOM: return set_bool(&o->fully_random_disable, arg, name);
	case OPT_FORWARD_RULES: return set_bool(&o->forward_rules, arg, name);
	case OPT_BLACKHOLE: return set_bool(&o->blackhole, arg, name);
	case OPT_HEALTHZ_IP: o->healthz_ip = arg; return 0;
	case OPT_STATE_DIR: o->state_dir = arg; return 0;
	case OPT_METRICS_ADDR: return parse_metrics_addr(o, arg);
	case OPT_HEALTHZ_PORT:
		if (cli_long(arg, 0, 65535, &v) == 0) {
			o->healthz_port = (unsigned)v;
			return 0;
		}
		log_err("--healthz-port %s: not a port within 0..65535", arg);
		return -1;
	case OPT_RESYNC:
	case OPT_IGNORED:
		log_info("--%s accepted for compatibility and ignored", name);
		return 0;
	case OPT_LISTEN: o->listen = arg; return 0;
	case OPT_KUBE:
		return refuse(name);
	case OPT_BIN_DIR: o->bin_dir = arg; return 0;
	case OPT_ROUTE_SHAPE:
		if (strcmp(arg, "nexthop") == 0 || strcmp(arg, "classic") == 0) {
			o->route_shape = arg;
			return 0;
		}
		log_err("--route-shape %s: not nexthop or classic", arg);
		return -1;
	case OPT_DRY_RUN: o->dry_run = true; return 0;
	case 'v':
		if (cli_long(arg, 0, 10, &v) < 0) {
			log_err("-v %s: not a level within 0..10", arg);
			return -1;
		}
		o->verbosity = (int)v;
		log_set_verbosity((int)v);
		return 0;
	case OPT_VERSION:
		/* Upstream prints the version on stderr. */
		fprintf(stderr, "%s\n", FLANNEL_VERSION);
		exit(0);
	case OPT_HELP:
		usage(stderr);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

/* The pieces live beside flanneld, or in ../bin when flanneld is in sbin. */
static const char *default_bin_dir(char *buf, size_t len)
{
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return "/usr/local/bin";
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return "/usr/local/bin";
	*slash = '\0';
	snprintf(probe, sizeof(probe), "%s/flannel-lease", exe);
	if (access(probe, X_OK) == 0) {
		snprintf(buf, len, "%s", exe);
		return buf;
	}
	if (snprintf(buf, len, "%.*s/../bin", (int)(len > 8 ? len - 8 : 0), exe) >= (int)len)
		return "/usr/local/bin";
	return buf;
}

static int parse_args(int argc, char **argv, struct flanneld_opts *o)
{
	int opt, idx;

	while ((opt = getopt_long_only(argc, argv, "v:", options, &idx)) != -1) {
		const char *name = opt == '?' ? "" : options[idx].name;

		/* getopt_long_only leaves idx unset for short options. */
		if (opt == 'v')
			name = "v";
		if (opt == '?') {
			usage(stderr);
			return EX_USAGE;
		}
		if (parse_one(o, opt, optarg, name) < 0)
			return EX_USAGE;
	}
	if (optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		return EX_USAGE;
	}
	if (o->listen && o->etcd.opts.remote) {
		log_err("--listen and --remote are mutually exclusive: a server serves, a client asks");
		return EX_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char bin[PATH_MAX];
	struct flanneld_opts o = {
		.subnet_file = "/run/flannel/subnet.env",
		.subnet_dir = "/run/flannel/networks",
		.forward_rules = true,
		.healthz_ip = "0.0.0.0",
	};
	int rc, inserted = 0;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	cli_etcd_init(&o.etcd);
	/* Upstream applies FLANNELD_* after --version, so it cannot be set that way. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-version") == 0) {
			fprintf(stderr, "%s\n", FLANNEL_VERSION);
			return 0;
		}
	if (cli_env_twins(&argc, &argv, 1, options, environ, "FLANNELD", &inserted) < 0) {
		log_err("read FLANNELD_* variables: out of memory");
		return EX_OSERR;
	}
	rc = parse_args(argc, argv, &o);
	if (!rc && sig_init(1) < 0) {
		log_err("set up signals: %s", strerror(errno));
		rc = EX_OSERR;
	}
	if (!rc) {
		if (!o.bin_dir)
			o.bin_dir = default_bin_dir(bin, sizeof(bin));
		o.envp = environ;
		rc = cli_exit_code(o.listen ? flanneld_serve(&o) : flanneld_run(&o));
	}
	cli_env_twins_free(argv, 1, inserted);
	return rc;
}
