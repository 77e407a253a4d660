/* flannel-masq - upstream's ip-masq and forward rules as one nftables table. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/cli.h"
#include "base/caps.h"
#include "base/log.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "masq/masq.h"
#include "model/env.h"
#include "model/subnet.h"

#define SUBNET_FILE_DEFAULT "/run/flannel/subnet.env"

enum {
	OPT_SUBNET_FILE = 1000,
	OPT_NETWORK,
	OPT_SUBNET,
	OPT_NETWORK6,
	OPT_SUBNET6,
	OPT_IP_MASQ,
	OPT_NO_RANDOM,
	OPT_FORWARD,
	OPT_TABLE,
	OPT_NFT,
	OPT_VERSION,
};

static const struct option options[] = {
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "subnet", required_argument, NULL, OPT_SUBNET },
	{ "ipv6-network", required_argument, NULL, OPT_NETWORK6 },
	{ "ipv6-subnet", required_argument, NULL, OPT_SUBNET6 },
	{ "ip-masq", optional_argument, NULL, OPT_IP_MASQ },
	{ "ip-masq-fully-random-disable", optional_argument, NULL, OPT_NO_RANDOM },
	{ "iptables-forward-rules", optional_argument, NULL, OPT_FORWARD },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "nft", required_argument, NULL, OPT_NFT },
	{ "v", required_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* The flags upstream flanneld has too: they take FLANNELD_* twins. */
static const struct option upstream_options[] = {
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "ip-masq", optional_argument, NULL, OPT_IP_MASQ },
	{ "ip-masq-fully-random-disable", optional_argument, NULL, OPT_NO_RANDOM },
	{ "iptables-forward-rules", optional_argument, NULL, OPT_FORWARD },
	{ NULL, 0, NULL, 0 },
};

extern char **environ;

static const char usage_text[] =
	"usage: flannel-masq [options] apply|delete|watch|show\n"
	"  --subnet-file=PATH          read FLANNEL_NETWORK, FLANNEL_SUBNET, the IPv6 twins\n"
	"                              and FLANNEL_IPMASQ (default " SUBNET_FILE_DEFAULT ")\n"
	"  --network=CIDR              the overlay network (beats the file)\n"
	"  --subnet=CIDR               this host's subnet, 100.64.5.0/24 or 100.64.5.1/24\n"
	"  --ipv6-network=CIDR, --ipv6-subnet=CIDR   the same for IPv6\n"
	"  --ip-masq[=BOOL]            masquerade rules (default FLANNEL_IPMASQ, else true)\n"
	"  --ip-masq-fully-random-disable[=BOOL]     masquerade without fully-random\n"
	"  --iptables-forward-rules[=BOOL]           forward accept rules (default true)\n"
	"  --table=NAME                our table, family inet (default " MASQ_TABLE_DEFAULT ")\n"
	"  --nft=PATH                  nft(8) to run (default nft, from PATH)\n"
	"  -v N                        verbosity (0, 1, 2); -h, --help; --version\n";

/* What the command line said; flags beat the subnet file. */
struct args {
	struct masq_conf conf;
	const char *subnet_file;
	const char *network, *subnet, *network6, *subnet6;
	int masq; /* -1: from the file */
	const char *verb;
};

static int bool_opt(const char *name, const char *arg, bool *out)
{
	if (cli_bool(arg, out) == 0)
		return 0;
	log_err("parse --%s=%s: not a boolean", name, arg);
	return -1;
}

/* Parse options; returns 0, or an exit code (-1: --help/--version done). */
static int parse_args(int argc, char **argv, struct args *a)
{
	bool b;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "v:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_SUBNET_FILE: a->subnet_file = optarg; break;
		case OPT_NETWORK: a->network = optarg; break;
		case OPT_SUBNET: a->subnet = optarg; break;
		case OPT_NETWORK6: a->network6 = optarg; break;
		case OPT_SUBNET6: a->subnet6 = optarg; break;
		case OPT_TABLE: a->conf.table = optarg; break;
		case OPT_NFT: a->conf.nft = optarg; break;
		case 'v':
			if (cli_long(optarg, 0, 10, &v) < 0) {
				log_err("parse -v %s: not a level within 0..10", optarg);
				return EX_USAGE;
			}
			log_set_verbosity((int)v);
			break;
		case OPT_IP_MASQ:
			if (bool_opt("ip-masq", optarg, &b) < 0)
				return EX_USAGE;
			a->masq = b;
			break;
		case OPT_NO_RANDOM:
			if (bool_opt("ip-masq-fully-random-disable", optarg, &b) < 0)
				return EX_USAGE;
			a->conf.fully_random = !b;
			break;
		case OPT_FORWARD:
			if (bool_opt("iptables-forward-rules", optarg, &a->conf.forward) < 0)
				return EX_USAGE;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case OPT_VERSION:
			puts("flannel-masq " FLANNEL_VERSION);
			return -1;
		default:
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		log_err("parse arguments: want exactly one of apply, delete, watch, show");
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	a->verb = argv[optind];
	return 0;
}

/* Parse the flag's TEXT into P, else take the file's value FALLBACK. */
static int prefix_arg(const char *what, const char *text, const struct prefix *fallback,
		      int family, struct prefix *p)
{
	*p = *fallback;
	if (!text)
		return 0;
	/* Host bits are cleared: subnet.env says 100.64.5.1/24 for 100.64.5.0/24. */
	if (prefix_parse(text, p) == 0 && p->addr.family == family)
		return 0;
	log_err("parse %s %s: not an %s prefix", what, text,
		family == AF_INET ? "IPv4" : "IPv6");
	return -1;
}

/* Turn the arguments and subnet.env into the rule configuration. */
static int build_conf(struct args *a)
{
	const char *path = a->subnet_file ? a->subnet_file : SUBNET_FILE_DEFAULT;
	struct masq_conf *c = &a->conf;
	struct subnet_env e;

	memset(&e, 0, sizeof(e));
	if ((a->subnet_file || (!a->network && !a->network6)) && env_read(path, &e) < 0) {
		log_err("read %s: %s", path, strerror(errno));
		/* Not written yet: flannel-lease may still be acquiring. */
		return errno == ENOENT ? EX_TEMPFAIL : EX_IOERR;
	}
	if (prefix_arg("network", a->network, &e.network, AF_INET, &c->network) < 0 ||
	    prefix_arg("subnet", a->subnet, &e.subnet, AF_INET, &c->subnet) < 0 ||
	    prefix_arg("ipv6-network", a->network6, &e.network6, AF_INET6, &c->network6) < 0 ||
	    prefix_arg("ipv6-subnet", a->subnet6, &e.subnet6, AF_INET6, &c->subnet6) < 0)
		return EX_DATAERR;
	/* A flag beats FLANNEL_IPMASQ; with neither, masquerading is the point. */
	c->masq = a->masq >= 0 ? a->masq : !e.has_ipmasq || e.ipmasq;
	return masq_conf_check(c) < 0 ? EX_CONFIG : 0;
}

static int do_show(const struct masq_conf *c)
{
	char *script;
	int rc = 0;

	if (masq_script(c, &script) < 0) {
		log_err("build ruleset: %s", strerror(errno));
		return EX_SOFTWARE;
	}
	if (fputs(script, stdout) == EOF || fflush(stdout) == EOF) {
		log_err("write ruleset: %s", strerror(errno));
		rc = EX_IOERR;
	}
	free(script);
	return rc;
}

static void notify_ready(void *arg)
{
	const char *sock = getenv("NOTIFY_SOCKET");

	(void)arg;
	if (sd_notify_send(sock, "READY=1\nSTATUS=rules applied, watching") < 0)
		log_warn("notify %s: %s", sock, strerror(errno));
}

/* watch until SIGTERM/SIGINT; SIGHUP re-reads subnet.env and re-applies. */
static int do_watch(struct args *a)
{
	int rc;

	if (masq_conf_empty(&a->conf)) {
		log_err("watch: nothing to install (no network, or neither masq nor forward rules)");
		return EX_USAGE;
	}
	if (sig_init(0) < 0) {
		log_err("watch: set up signals: %s", strerror(errno));
		return EX_OSERR;
	}
	for (;;) {
		rc = masq_watch(&a->conf, notify_ready, NULL);
		if (rc != MASQ_RELOAD) {
			rc = cli_exit_code(rc);
			break;
		}
		log_notice("reload: re-reading the configuration");
		rc = build_conf(a);
		if (rc)
			break;
	}
	sd_notify_send(getenv("NOTIFY_SOCKET"), "STOPPING=1");
	return rc;
}

static int run(int argc, char **argv)
{
	struct args a = { .masq = -1 };
	int rc;

	masq_conf_init(&a.conf);
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (strcmp(a.verb, "apply") && strcmp(a.verb, "delete") &&
	    strcmp(a.verb, "watch") && strcmp(a.verb, "show")) {
		log_err("parse arguments: unknown command '%s'", a.verb);
		return EX_USAGE;
	}
	if (strcmp(a.verb, "show") != 0 && (rc = caps_need_net_admin(a.verb)) != 0)
		return cli_exit_code(rc);
	/* delete needs only the table's name. */
	if (strcmp(a.verb, "delete") == 0)
		return masq_conf_check(&a.conf) < 0 ? EX_CONFIG : cli_exit_code(masq_delete(&a.conf));
	rc = build_conf(&a);
	if (rc)
		return rc;
	if (strcmp(a.verb, "show") == 0)
		return do_show(&a.conf);
	if (strcmp(a.verb, "watch") == 0)
		return do_watch(&a);
	if (masq_conf_empty(&a.conf))
		log_notice("apply: nothing to install, removing table inet %s", a.conf.table);
	return cli_exit_code(masq_apply(&a.conf));
}

int main(int argc, char **argv)
{
	int inserted = 0, rc;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	/* FLANNELD_SUBNET_FILE and friends, unless the flag is given. */
	if (cli_env_twins(&argc, &argv, 1, upstream_options, environ, "FLANNELD", &inserted) < 0) {
		log_err("read environment: %s", strerror(ENOMEM));
		return EX_OSERR;
	}
	rc = run(argc, argv);
	cli_env_twins_free(argv, 1, inserted);
	return rc;
}
