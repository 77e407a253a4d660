/* flannel-server - upstream's client/server API (/v1) over etcd, for hosts
 * that run flannel-lease and flannel-watch with --remote. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/cli.h"
#include "base/log.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/acquire.h"
#include "etcd/etcd_cli.h"
#include "server/server.h"

extern char **environ;

enum {
	OPT_LISTEN = 1, OPT_KEYFILE, OPT_CERTFILE, OPT_CAFILE, OPT_MAX_WATCHES, OPT_READ_TIMEOUT,
	OPT_TTL, OPT_TRUST_PUBLIC_IP,
};

static const struct option options[] = {
	CLI_ETCD_OPTIONS,
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "remote-keyfile", required_argument, NULL, OPT_KEYFILE },
	{ "remote-certfile", required_argument, NULL, OPT_CERTFILE },
	{ "remote-cafile", required_argument, NULL, OPT_CAFILE },
	{ "max-watches", required_argument, NULL, OPT_MAX_WATCHES },
	{ "read-timeout", required_argument, NULL, OPT_READ_TIMEOUT },
	{ "subnet-lease-ttl", required_argument, NULL, OPT_TTL },
	{ "trust-public-ip", no_argument, NULL, OPT_TRUST_PUBLIC_IP },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-server [options]\n"
		"Serve flannel's client/server API (/v1) over etcd for hosts run with --remote.\n\n"
		"  --listen=ADDR              [tcp://]HOST:PORT, :PORT, fd:// or fd://N\n"
		"                             (default :8888)\n"
		"  --remote-certfile=FILE     serve TLS with this certificate...\n"
		"  --remote-keyfile=FILE      ...and this key\n"
		"  --remote-cafile=FILE       require client certificates signed by this CA\n"
		"  --max-watches=N            long polls held at once (default %u; more get 429)\n"
		"  --read-timeout=DURATION    a request must arrive whole within it (default 10s)\n"
		"  --subnet-lease-ttl=DURATION  TTL of a new lease (default 24h)\n"
		"  --trust-public-ip          accept a PublicIP that is not the client's address\n"
		"  -v N                       verbosity (0, 1, 2)\n%s",
		SERVER_MAX_WATCHES, cli_etcd_usage);
}

static int duration(const char *flag, const char *arg, int64_t min_ms, int64_t *out)
{
	int64_t ms = duration_parse_ms(arg);

	if (ms >= min_ms) {
		*out = ms;
		return 0;
	}
	log_err("--%s %s: not a duration of at least %lld ms", flag, arg, (long long)min_ms);
	return -1;
}

static int parse_one(struct cli_etcd *ce, struct server_opts *o, int opt, const char *arg)
{
	int64_t ms;
	long v;
	int r = cli_etcd_option(ce, opt, arg);

	if (r)
		return r < 0 ? -1 : 0;
	switch (opt) {
	case OPT_LISTEN: o->listen = arg; return 0;
	case OPT_KEYFILE: o->keyfile = *arg ? arg : NULL; return 0;
	case OPT_CERTFILE: o->certfile = *arg ? arg : NULL; return 0;
	case OPT_CAFILE: o->cafile = *arg ? arg : NULL; return 0;
	case OPT_TRUST_PUBLIC_IP: o->trust_public_ip = true; return 0;
	case OPT_MAX_WATCHES:
		if (cli_long(arg, 0, 1000000, &v) == 0) {
			o->max_watches = (unsigned)v;
			return 0;
		}
		log_err("--max-watches %s: not a number within 0..1000000", arg);
		return -1;
	case OPT_READ_TIMEOUT: return duration("read-timeout", arg, 100, &o->read_timeout_ms);
	case OPT_TTL:
		if (duration("subnet-lease-ttl", arg, 1000, &ms) < 0)
			return -1;
		o->ttl_s = ms / 1000;
		return 0;
	default:
		r = cli_common_option(opt, arg, "flannel-server", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

int main(int argc, char **argv)
{
	struct cli_etcd ce;
	struct server_opts o = {
		.listen = ":8888",
		.read_timeout_ms = SERVER_READ_TIMEOUT_MS,
		.idle_timeout_ms = SERVER_IDLE_TIMEOUT_MS,
		.max_watches = SERVER_MAX_WATCHES,
		.max_conns = SERVER_MAX_CONNS,
		.ttl_s = SUBNET_TTL_DEFAULT,
	};
	int opt, rc = 0, inserted = 0;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	cli_etcd_init(&ce);
	if (cli_env_twins(&argc, &argv, 1, options, environ, "FLANNELD", &inserted) < 0) {
		log_err("read FLANNELD_* variables: out of memory");
		return EX_OSERR;
	}
	while (!rc && (opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&ce, &o, opt, optarg) < 0)
			rc = EX_USAGE;
	if (!rc && optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		rc = EX_USAGE;
	}
	if (!rc && (!o.certfile != !o.keyfile)) {
		log_err("--remote-certfile and --remote-keyfile go together (TLS needs both)");
		rc = EX_USAGE;
	}
	if (!rc && o.cafile && !o.certfile) {
		log_err("--remote-cafile needs --remote-certfile and --remote-keyfile: "
			"client certificates are checked over TLS only");
		rc = EX_USAGE;
	}
	if (!rc && sig_init(0) < 0) {
		log_err("set up signals: %s", strerror(errno));
		rc = EX_OSERR;
	}
	if (!rc) {
		o.etcd = ce.opts;
		o.prefix = ce.prefix;
		o.notify_socket = getenv("NOTIFY_SOCKET");
		rc = cli_exit_code(server_run(&o));
	}
	cli_env_twins_free(argv, 1, inserted);
	return rc;
}
