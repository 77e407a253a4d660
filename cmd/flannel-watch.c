/* flannel-watch - stream lease events from etcd as JSON lines. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/cli.h"
#include "base/log.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/etcd_cli.h"
#include "etcd/etcd.h"
#include "etcd/watch.h"

extern char **environ;

enum {
	OPT_SUBNET_FILE = 1,
	OPT_PAGE_SIZE,
	OPT_EXPIRATIONS,
	OPT_ONCE,
	OPT_STATE_DIR,
	OPT_PROBE_INTERVAL,
};

static const struct option options[] = {
	CLI_ETCD_OPTIONS,
	CLI_REMOTE_OPTIONS,
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
	{ "expirations", no_argument, NULL, OPT_EXPIRATIONS },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "probe-interval", required_argument, NULL, OPT_PROBE_INTERVAL },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-watch [options]\n"
		"Print every lease as a JSON line, a sync marker, then live changes.\n\n"
		"  --subnet-file=FILE       our subnet.env, to mark our own lease \"self\"\n"
		"                           (default /run/flannel/subnet.env)\n"
		"  --page-size=N            leases per etcd request (default 500)\n"
		"  --expirations            look up each lease's expiry (one request per lease)\n"
		"  --once                   exit after the first sync marker\n"
		"  --state-dir=DIR          the state file's directory (/run/flannel/state)\n"
		"  --probe-interval=DURATION  ask the watched etcd member whether it is alive\n"
		"                           after this long without a word (default 30s; 0: never)\n"
		"  -v N                     verbosity (0, 1, 2)\n%s",
		cli_etcd_usage);
	fputs(cli_remote_usage, f);
}

struct args {
	struct cli_etcd etcd;
	const char *subnet_file, *state_dir;
	long page;
	bool expirations, once;
};

static int parse_one(struct args *a, int opt, const char *arg)
{
	int r = cli_etcd_option(&a->etcd, opt, arg);

	if (r)
		return r < 0 ? -1 : 0;
	switch (opt) {
	case OPT_SUBNET_FILE: a->subnet_file = *arg ? arg : NULL; return 0;
	case OPT_EXPIRATIONS: a->expirations = true; return 0;
	case OPT_ONCE: a->once = true; return 0;
	case OPT_STATE_DIR: a->state_dir = arg; return 0;
	case OPT_PROBE_INTERVAL: {
		int64_t ms = strcmp(arg, "0") == 0 ? 0 : duration_parse_ms(arg);

		if (ms < 0) {
			log_err("--probe-interval %s: not a duration such as 30s or 0", arg);
			return -1;
		}
		a->etcd.opts.watch_probe_ms = ms ? (long)ms : -1;
		return 0;
	}
	case OPT_PAGE_SIZE:
		if (cli_long(arg, 1, 100000, &a->page) == 0)
			return 0;
		log_err("--page-size %s: not a number within 1..100000", arg);
		return -1;
	default:
		r = cli_common_option(opt, arg, "flannel-watch", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

static int run(struct args *a)
{
	struct lease_watch w = { 0 };
	struct etcd *e = NULL;
	char err[256];
	int rc = etcd_open(&a->etcd.opts, &e, err, sizeof(err));

	if (rc != ETCD_OK) {
		log_err("set up etcd client: %s", err);
		return cli_exit_code(etcd_err(rc));
	}
	w.e = e;
	w.prefix = a->etcd.prefix;
	w.out = stdout;
	w.subnet_file = a->subnet_file;
	w.page = a->page;
	w.expirations = a->expirations;
	w.once = a->once;
	w.synced = sd_notify_ready;
	w.synced_arg = getenv("NOTIFY_SOCKET");
	if (!a->once)
		w.state = state_new(a->state_dir, "flannel-watch", false);
	rc = cli_exit_code(lease_watch_run(&w));
	state_free(w.state);
	etcd_close(e);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { .subnet_file = "/run/flannel/subnet.env", .page = 500 };
	int opt, rc = 0, inserted = 0;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	cli_etcd_init(&a.etcd);
	if (cli_env_twins(&argc, &argv, 1, options, environ, "FLANNELD", &inserted) < 0) {
		log_err("read FLANNELD_* variables: out of memory");
		return EX_OSERR;
	}
	while (!rc && (opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&a, opt, optarg) < 0)
			rc = EX_USAGE;
	if (!rc && optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		rc = EX_USAGE;
	}
	if (!rc && sig_init(0) < 0) {
		log_err("set up signals: %s", strerror(errno));
		rc = EX_OSERR;
	}
	if (!rc)
		rc = run(&a);
	cli_env_twins_free(argv, 1, inserted);
	return rc;
}
