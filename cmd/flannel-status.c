/* flannel-status - what the pieces on this host say about themselves
 * (their state files) and what the kernel has: text, --json or --metrics;
 * exit 1 when something is degraded. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "base/cli.h"
#include "base/log.h"
#include "status/report.h"
#include "status/state.h"

enum { OPT_STATE_DIR = 1, OPT_JSON, OPT_METRICS, OPT_NO_KERNEL };

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "metrics", no_argument, NULL, OPT_METRICS },
	{ "no-kernel", no_argument, NULL, OPT_NO_KERNEL },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-status [--json | --metrics] [--state-dir=DIR] [--no-kernel]\n"
		"This host's lease, the network, every piece (running? in sync?) and every\n"
		"peer (installed? routed?), from the pieces' state files (DIR, default\n"
		"$FLANNELD_STATE_DIR or /run/flannel/state) and the kernel.  Exits 1 when\n"
		"something is degraded, naming it.  See flannel-status(1), flannel-state(5).\n");
}

struct args {
	const char *dir;
	bool json, metrics, kernel;
};

static int parse(int argc, char **argv, struct args *a)
{
	int opt, r;

	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1) {
		switch (opt) {
		case OPT_STATE_DIR: a->dir = optarg; break;
		case OPT_JSON: a->json = true; break;
		case OPT_METRICS: a->metrics = true; break;
		case OPT_NO_KERNEL: a->kernel = false; break;
		default:
			r = cli_common_option(opt, optarg, "flannel-status", usage);
			if (r > 0)
				exit(0);
			if (r < 0)
				return EX_USAGE;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		return EX_USAGE;
	}
	if (a->json && a->metrics) {
		log_err("--json and --metrics: give one of them");
		return EX_USAGE;
	}
	return 0;
}

static int print(const struct args *a, const struct report *r)
{
	char *m;
	int rc;

	if (a->metrics) {
		m = report_metrics(r);
		if (!m) {
			log_err("format metrics: out of memory");
			return EX_OSERR;
		}
		rc = fputs(m, stdout) == EOF ? -1 : 0;
		free(m);
	} else {
		rc = a->json ? report_print_json(r, stdout) : report_print_text(r, stdout);
	}
	if (rc < 0 || fflush(stdout) == EOF) {
		log_err("write the report: %s", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("FLANNELD_STATE_DIR");
	struct args a = { .dir = env && *env ? env : STATE_DIR_DEFAULT, .kernel = true };
	struct report r;
	int rc;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = parse(argc, argv, &a);
	if (rc)
		return rc;
	rc = report_collect(&r, a.dir, a.kernel);
	if (rc == REPORT_NO_DIR) {
		log_err("read state directory %s: %s (is flanneld running here? see --state-dir)",
			a.dir, strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}
	if (rc == REPORT_NOMEM) {
		log_err("build the report: out of memory");
		return EX_OSERR;
	}
	rc = print(&a, &r);
	if (!rc && r.problems)
		rc = EXIT_FAILURE;
	report_free(&r);
	return rc;
}
