/* flannel-lease - acquire and renew this host's subnet lease, write subnet.env. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "backend/backend.h"
#include "base/cli.h"
#include "base/log.h"
#include "base/pidlock.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/config_fetch.h"
#include "etcd/etcd_cli.h"
#include "etcd/etcd.h"
#include "etcd/lease_keep.h"
#include "model/config.h"
#include "model/env.h"
#include "netlink/iface.h"

extern char **environ;

enum {
	OPT_PUBLIC_IP = 1,
	OPT_PUBLIC_IPV6,
	OPT_IFACE,
	OPT_SUBNET_FILE,
	OPT_BACKEND_TYPE,
	OPT_BACKEND_DATA,
	OPT_BACKEND_V6_DATA,
	OPT_MTU,
	OPT_IP_MASQ,
	OPT_MARGIN,
	OPT_TTL,
	OPT_ONESHOT,
	OPT_QUIET,
	OPT_STATE_DIR,
};

static const struct option options[] = {
	CLI_ETCD_OPTIONS,
	CLI_REMOTE_OPTIONS,
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "public-ipv6", required_argument, NULL, OPT_PUBLIC_IPV6 },
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "backend-type", required_argument, NULL, OPT_BACKEND_TYPE },
	{ "backend-data", required_argument, NULL, OPT_BACKEND_DATA },
	{ "backend-v6-data", required_argument, NULL, OPT_BACKEND_V6_DATA },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "ip-masq", optional_argument, NULL, OPT_IP_MASQ },
	{ "subnet-lease-renew-margin", required_argument, NULL, OPT_MARGIN },
	{ "subnet-lease-ttl", required_argument, NULL, OPT_TTL },
	{ "oneshot", no_argument, NULL, OPT_ONESHOT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-lease [options]\n"
		"Acquire and renew this host's subnet lease in etcd; write subnet.env.\n\n"
		"  --public-ip=IP                 IPv4 address other hosts reach us at\n"
		"  --public-ipv6=IP               IPv6 address other hosts reach us at\n"
		"  --iface=NAME|IP                interface whose address is the public IP\n"
		"                                 (default: the interface of the default route)\n"
		"  --subnet-file=FILE             default /run/flannel/subnet.env\n"
		"  --backend-type=TYPE            BackendType of the lease (vxlan, host-gw, ...)\n"
		"  --backend-data=JSON            BackendData of the lease\n"
		"  --backend-v6-data=JSON         BackendV6Data of the lease\n"
		"  --mtu=N                        FLANNEL_MTU (default: the backend's rule on the\n"
		"                                 underlay MTU, as flanneld: 1450 for vxlan on 1500)\n"
		"  --ip-masq[=BOOL]               FLANNEL_IPMASQ=true\n"
		"  --subnet-lease-renew-margin=M  renew M minutes (or 30s, 2h) before expiry (60)\n"
		"  --subnet-lease-ttl=DURATION    TTL of a new lease (default 24h, as upstream)\n"
		"  --oneshot                      acquire, write subnet.env and exit\n"
		"  --quiet                        print no lease events on stdout\n"
		"  --state-dir=DIR                the state file's directory (/run/flannel/state)\n"
		"  -v N                           verbosity (0, 1, 2)\n%s",
		cli_etcd_usage);
	fputs(cli_remote_usage, f);
}

struct args {
	struct cli_etcd etcd;
	const char *public_ip, *public_ip6, *iface, *backend_type, *backend_data,
		*backend_v6_data;
	const char *subnet_file, *state_dir;
	long mtu;
	bool ipmasq, oneshot, quiet;
	int64_t margin_s, ttl_s;
};

static int parse_margin(const char *arg, int64_t *out)
{
	long min;
	int64_t ms;

	/* Upstream takes whole minutes, 1..1439; we also take durations. */
	if (cli_long(arg, 1, 1439, &min) == 0) {
		*out = (int64_t)min * 60;
		return 0;
	}
	ms = duration_parse_ms(arg);
	if (ms < 1000 || !strpbrk(arg, "smh"))
		return -1;
	*out = ms / 1000;
	return 0;
}

static int parse_value(struct args *a, int opt, const char *arg)
{
	int64_t ms;

	switch (opt) {
	case OPT_MTU:
		if (cli_long(arg, 68, 65536, &a->mtu) == 0)
			return 0;
		log_err("--mtu %s: not an MTU within 68..65536", arg);
		return -1;
	case OPT_IP_MASQ:
		if (cli_bool(arg, &a->ipmasq) == 0)
			return 0;
		log_err("--ip-masq=%s: not true or false", arg);
		return -1;
	case OPT_MARGIN:
		if (parse_margin(arg, &a->margin_s) == 0)
			return 0;
		log_err("--subnet-lease-renew-margin %s: minutes within 1..1439, or a duration such as 30s",
			arg);
		return -1;
	default: /* OPT_TTL */
		ms = duration_parse_ms(arg);
		if (ms >= 1000) {
			a->ttl_s = ms / 1000;
			return 0;
		}
		log_err("--subnet-lease-ttl %s: a duration of at least 1s", arg);
		return -1;
	}
}

static int parse_one(struct args *a, int opt, const char *arg)
{
	int r = cli_etcd_option(&a->etcd, opt, arg);

	if (r)
		return r < 0 ? -1 : 0;
	switch (opt) {
	case OPT_PUBLIC_IP: a->public_ip = arg; return 0;
	case OPT_PUBLIC_IPV6: a->public_ip6 = arg; return 0;
	case OPT_IFACE: a->iface = arg; return 0;
	case OPT_SUBNET_FILE: a->subnet_file = arg; return 0;
	case OPT_BACKEND_TYPE: a->backend_type = arg; return 0;
	case OPT_BACKEND_DATA: a->backend_data = arg; return 0;
	case OPT_BACKEND_V6_DATA: a->backend_v6_data = arg; return 0;
	case OPT_ONESHOT: a->oneshot = true; return 0;
	case OPT_QUIET: a->quiet = true; return 0;
	case OPT_STATE_DIR: a->state_dir = arg; return 0;
	case OPT_MTU:
	case OPT_IP_MASQ:
	case OPT_MARGIN:
	case OPT_TTL:
		return parse_value(a, opt, arg);
	default:
		r = cli_common_option(opt, arg, "flannel-lease", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int opt;

	memset(a, 0, sizeof(*a));
	cli_etcd_init(&a->etcd);
	a->subnet_file = "/run/flannel/subnet.env";
	a->margin_s = 60 * 60;
	a->ttl_s = SUBNET_TTL_DEFAULT;
	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(a, opt, optarg) < 0)
			return EX_USAGE;
	if (optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		return EX_USAGE;
	}
	if (a->margin_s >= a->ttl_s) {
		log_err("--subnet-lease-renew-margin (%llds) must be shorter than the lease TTL (%llds)",
			(long long)a->margin_s, (long long)a->ttl_s);
		return EX_USAGE;
	}
	return 0;
}

/* Why an interface gave no public address, for the message. */
static const char *no_addr_why(int family)
{
	if (errno == EADDRNOTAVAIL && family == AF_INET6)
		return "no global IPv6 address (a link-local one is never published: "
		       "other hosts cannot reach it; give --public-ipv6 or add one)";
	return strerror(errno);
}

/*
 * The public address: --public-ip, else --iface's, else the default route's.
 * *underlay: the MTU of the interface the overlay runs on: --iface, else the
 * one holding --public-ip, else (an address on no interface, as behind NAT)
 * the default route's, as upstream.
 */
static int find_public_ip(const struct args *a, int family, const char *given,
			  struct ipaddr *out, unsigned *underlay)
{
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	struct iface ifc;
	int r;

	if (given) {
		if (addr_parse_family(given, family, out) < 0 || addr_is_unusable(out)) {
			log_err("--public-ip%s %s: not a usable %s unicast address",
				family == AF_INET ? "" : "v6", given, fam);
			return EX_USAGE;
		}
		r = a->iface ? iface_lookup(a->iface, family, &ifc) : iface_by_addr(out, &ifc);
		if (r < 0 && !a->iface)
			r = iface_default(family, &ifc);
		if (!*underlay && r == 0)
			*underlay = ifc.mtu;
		return 0;
	}
	r = a->iface ? iface_lookup(a->iface, family, &ifc) : iface_default(family, &ifc);
	if (r < 0) {
		log_err("find the %s address of %s: %s", fam,
			a->iface ? a->iface : "the default route's interface", no_addr_why(family));
		return EX_CONFIG;
	}
	*out = ifc.addr;
	if (!*underlay)
		*underlay = ifc.mtu;
	return 0;
}

static int load_json_arg(const char *flag, const char *arg, json_t **out)
{
	json_error_t jerr;

	if (!arg || !*arg)
		return 0;
	*out = json_loads(arg, JSON_DECODE_ANY, &jerr);
	if (!*out) {
		log_err("--%s: not JSON: %s", flag, jerr.text);
		return EX_USAGE;
	}
	return 0;
}

/* The backend's Backend keys, checked as flanneld checks them. */
static int check_backend(const struct args *a, const struct net_config *cfg)
{
	const struct backend *be = backend_find(cfg->backend_type);
	char err[256];

	if (be && be->check && be->check(cfg, err, sizeof(err)) < 0) {
		log_err("parse config %s/config: %s", a->etcd.prefix, err);
		return EX_CONFIG;
	}
	return 0;
}

static int setup_want(const struct args *a, const struct net_config *cfg, struct lease *want,
		      unsigned *mtu)
{
	const struct backend *be = backend_find(cfg->backend_type);
	unsigned underlay = 0;
	int rc = 0;

	if (cfg->enable_ipv4)
		rc = find_public_ip(a, AF_INET, a->public_ip, &want->public_ip, &underlay);
	if (!rc && (cfg->enable_ipv6 || a->public_ip6))
		rc = find_public_ip(a, AF_INET6, a->public_ip6, &want->public_ip6, &underlay);
	/* FLANNEL_MTU by the backend's rule, as flanneld computes it. */
	if (!rc && !*mtu && underlay)
		*mtu = be ? be->mtu(cfg, underlay) : underlay;
	if (!rc)
		rc = load_json_arg("backend-data", a->backend_data, &want->backend_data);
	if (!rc)
		rc = load_json_arg("backend-v6-data", a->backend_v6_data, &want->backend_v6_data);
	if (!rc && a->backend_type) {
		if (strlen(a->backend_type) >= sizeof(want->backend_type)) {
			log_err("--backend-type %s: too long", a->backend_type);
			return EX_USAGE;
		}
		snprintf(want->backend_type, sizeof(want->backend_type), "%s", a->backend_type);
	}
	if (!rc && !*mtu) {
		log_err("cannot tell the MTU of the underlay interface: give --mtu");
		rc = EX_CONFIG;
	}
	return rc;
}

/* One flannel-lease per subnet file: a second one would make the lease flap. */
static int take_lock(const char *subnet_file)
{
	char path[4096];
	pid_t holder;
	int fd;

	if (snprintf(path, sizeof(path), "%s.lock", subnet_file) >= (int)sizeof(path)) {
		log_err("lock %s.lock: %s", subnet_file, strerror(ENAMETOOLONG));
		return EX_USAGE;
	}
	if (pidlock_take(path, &fd, &holder) == 0)
		return 0;
	if (errno == EWOULDBLOCK) {
		log_err("lock %s: another flannel-lease (pid %ld) already keeps the lease of %s; "
			"stop it first", path, (long)holder, subnet_file);
		return EX_TEMPFAIL;
	}
	log_err("lock %s: %s", path, strerror(errno));
	return EX_OSERR;
}

static int run(struct args *a, struct net_config *cfg, struct lease *want)
{
	struct lease_keep k = { 0 };
	struct subnet_env prev;
	struct etcd *e = NULL;
	char err[256];
	unsigned mtu = (unsigned)a->mtu;
	int rc = take_lock(a->subnet_file);

	if (rc)
		return rc;
	rc = etcd_open(&a->etcd.opts, &e, err, sizeof(err));
	if (rc != ETCD_OK) {
		log_err("set up etcd client: %s", err);
		return cli_exit_code(etcd_err(rc));
	}
	rc = a->oneshot ? config_fetch(e, a->etcd.prefix, cfg) :
			   config_fetch_wait(e, a->etcd.prefix, cfg);
	if (rc < 0) {
		rc = 0; /* stopped while waiting */
		goto out;
	}
	rc = cli_exit_code(rc);
	if (!rc)
		rc = check_backend(a, cfg);
	if (!rc)
		rc = setup_want(a, cfg, want, &mtu);
	if (rc)
		goto out;
	k.acq = (struct acquire){ .e = e, .prefix = a->etcd.prefix, .cfg = cfg, .want = want,
				  .ttl = a->ttl_s };
	/* The subnet we had before a restart, if subnet.env still says it. */
	if (env_read(a->subnet_file, &prev) == 0) {
		k.acq.hint = prev.subnet;
		k.acq.hint6 = prev.subnet6;
	}
	k.subnet_file = a->subnet_file;
	k.mtu = mtu;
	k.ipmasq = a->ipmasq;
	k.margin_s = a->margin_s;
	k.oneshot = a->oneshot;
	k.out = a->quiet ? NULL : stdout;
	k.ready = sd_notify_ready;
	k.ready_arg = getenv("NOTIFY_SOCKET");
	lease_init(&k.cur);
	if (!a->oneshot)
		k.state = state_new(a->state_dir, "flannel-lease", false);
	rc = cli_exit_code(lease_keep_run(&k));
	state_free(k.state);
	lease_clear(&k.cur);
out:
	etcd_close(e);
	return rc;
}

int main(int argc, char **argv)
{
	struct net_config cfg;
	struct lease want;
	struct args a;
	int rc, inserted = 0;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	config_init(&cfg);
	lease_init(&want);
	if (cli_env_twins(&argc, &argv, 1, options, environ, "FLANNELD", &inserted) < 0) {
		log_err("read FLANNELD_* variables: out of memory");
		return EX_OSERR;
	}
	rc = parse_args(argc, argv, &a);
	if (!rc && sig_init(0) < 0) {
		log_err("set up signals: %s", strerror(errno));
		rc = EX_OSERR;
	}
	if (!rc)
		rc = run(&a, &cfg, &want);
	lease_clear(&want);
	config_clear(&cfg);
	cli_env_twins_free(argv, 1, inserted);
	return rc;
}
