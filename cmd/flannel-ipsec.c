/* flannel-ipsec - the ipsec backend: init checks the kernel for ESP and
 * finds charon; apply turns lease events on stdin into charon connections
 * and XFRM policies; status shows each peer's IKE and CHILD SA. */
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
#include "ipsec/charon.h"
#include "ipsec/ipsec.h"

enum {
	OPT_IFACE = 1, OPT_PUBLIC_IP, OPT_SUBNET_FILE, OPT_NETWORK, OPT_PSK, OPT_PSK_FILE,
	OPT_ENCAP, OPT_ESP, OPT_RUN_DIR, OPT_VICI, OPT_CHARON, OPT_IKE_REKEY, OPT_CHILD_REKEY,
	OPT_CHECK, OPT_WARN, OPT_CHARON_LOG, OPT_JSON, OPT_NO_ESP_CHECK, OPT_STATE_DIR,
};

static const struct option options[] = {
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "psk", required_argument, NULL, OPT_PSK },
	{ "psk-file", required_argument, NULL, OPT_PSK_FILE },
	{ "udp-encap", no_argument, NULL, OPT_ENCAP },
	{ "esp-proposal", required_argument, NULL, OPT_ESP },
	{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
	{ "vici", required_argument, NULL, OPT_VICI },
	{ "charon", required_argument, NULL, OPT_CHARON },
	{ "ike-rekey", required_argument, NULL, OPT_IKE_REKEY },
	{ "child-rekey", required_argument, NULL, OPT_CHILD_REKEY },
	{ "check-interval", required_argument, NULL, OPT_CHECK },
	{ "warn-after", required_argument, NULL, OPT_WARN },
	{ "charon-log", required_argument, NULL, OPT_CHARON_LOG },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "no-esp-check", no_argument, NULL, OPT_NO_ESP_CHECK },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-ipsec init [--charon=PATH] [--vici=SOCKET]\n"
		"       flannel-ipsec apply --psk=TEXT|--psk-file=FILE [--udp-encap]\n"
		"                     [--esp-proposal=P] [--iface=IF|ADDR] [--public-ip=ADDR]\n"
		"                     [--subnet-file=FILE] [--run-dir=DIR] [--vici=SOCKET]\n"
		"                     [--charon=PATH] [--ike-rekey=SECS] [--child-rekey=SECS]\n"
		"                     [--check-interval=SECS] [--warn-after=SECS]\n"
		"                     [--charon-log=N] [--no-esp-check] [--state-dir=DIR] [-v N]\n"
		"       flannel-ipsec status [--run-dir=DIR] [--vici=SOCKET] [--json]\n"
		"init exits 69 on a kernel without ESP or a host without charon; apply reads\n"
		"lease events on stdin and keeps one charon connection and three XFRM policies\n"
		"per remote lease; status shows each peer's IKE and CHILD SA.\n"
		"See flannel-ipsec(1).\n");
}

struct cmdline {
	struct ipsec_opts o;
	char psk[4100];
	bool json;
};

static int num(const char *opt, const char *arg, long min, long max, unsigned *out)
{
	long v;

	if (cli_long(arg, min, max, &v) == 0) {
		*out = (unsigned)v;
		return 0;
	}
	log_err("--%s %s: not within %ld..%ld", opt, arg, min, max);
	return -1;
}

static int set_psk(struct cmdline *cl, const char *text)
{
	size_t n = strlen(text);

	if (n < IPSEC_PSK_MIN || n >= sizeof(cl->psk)) {
		log_err("--psk: the PSK must have %d to %zu characters (upstream's rule: at "
			"least 96)", IPSEC_PSK_MIN, sizeof(cl->psk) - 1);
		return -1;
	}
	memcpy(cl->psk, text, n + 1);
	cl->o.psk = cl->psk;
	return 0;
}

static int parse_one(struct cmdline *cl, int opt, char *arg)
{
	struct ipsec_opts *o = &cl->o;
	char err[300], buf[4100];
	unsigned v;
	int r;

	switch (opt) {
	case OPT_PSK:
		r = set_psk(cl, arg);
		/* Out of ps(1) and /proc/PID/cmdline from now on. */
		memset(arg, 'x', strlen(arg));
		return r;
	case OPT_PSK_FILE:
		if (cli_read_secret(arg, buf, sizeof(buf), err, sizeof(err)) < 0) {
			log_err("--psk-file: %s", err);
			return -1;
		}
		r = set_psk(cl, buf);
		explicit_bzero(buf, sizeof(buf));
		return r;
	case OPT_ENCAP: o->udp_encap = true; return 0;
	case OPT_ESP: o->esp_proposal = arg; return 0;
	case OPT_IFACE: o->iface = arg; return 0;
	case OPT_PUBLIC_IP: o->public_ip = arg; return 0;
	case OPT_SUBNET_FILE:
		o->subnet_file = arg;
		o->subnet_file_given = true;
		return 0;
	case OPT_NETWORK: return 0; /* from the subnet file; accepted for flanneld's sake */
	case OPT_RUN_DIR: o->run_dir = arg; return 0;
	case OPT_VICI: o->vici = arg; return 0;
	case OPT_CHARON: o->charon = arg; return 0;
	case OPT_JSON: cl->json = true; return 0;
	case OPT_NO_ESP_CHECK: o->no_esp_check = true; return 0;
	case OPT_STATE_DIR: o->state_dir = arg; return 0;
	case OPT_IKE_REKEY: return num("ike-rekey", arg, 60, 86400 * 7, &o->ike_rekey);
	case OPT_CHILD_REKEY: return num("child-rekey", arg, 30, 86400, &o->child_rekey);
	case OPT_CHECK: return num("check-interval", arg, 1, 3600, &o->check_secs);
	case OPT_WARN: return num("warn-after", arg, 1, 86400, &o->warn_secs);
	case OPT_CHARON_LOG:
		if (num("charon-log", arg, 0, 4, &v) < 0)
			return -1;
		o->charon_log = (int)v;
		return 0;
	default:
		r = cli_common_option(opt, arg, "flannel-ipsec", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

/* The child that becomes charon: flannel-ipsec exec-charon --run-dir=D --charon=P. */
static int exec_charon(int argc, char **argv)
{
	const char *dir = NULL, *path = NULL;
	char err[4400];

	for (int i = 2; i < argc; i++) {
		if (!strncmp(argv[i], "--run-dir=", 10))
			dir = argv[i] + 10;
		else if (!strncmp(argv[i], "--charon=", 9))
			path = argv[i] + 9;
	}
	if (!dir || !path) {
		log_err("exec-charon: --run-dir and --charon are needed");
		return EX_USAGE;
	}
	charon_exec(dir, path, err, sizeof(err));
	log_err("%s", err);
	return EX_OSERR;
}

int main(int argc, char **argv)
{
	struct cmdline cl = { .o = { .run_dir = IPSEC_RUN_DIR, .esp_proposal = IPSEC_ESP_PROPOSAL,
				     .subnet_file = "/run/flannel/subnet.env",
				     .self = "/proc/self/exe", .ike_rekey = 14400,
				     .child_rekey = 3600, .check_secs = 2, .warn_secs = 60 } };
	char vici[4200];
	const char *cmd;
	int opt, rc;

	const char *rd = getenv("FLANNEL_IPSEC_RUN_DIR");

	if (rd && rd[0])
		cl.o.run_dir = rd;
	cl.o.state_dir = getenv("FLANNELD_STATE_DIR");
	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--version")))
		return parse_one(&cl, argv[1][2] == 'h' ? OPT_CLI_HELP : OPT_CLI_VERSION, NULL);
	cmd = argc >= 2 ? argv[1] : "";
	if (!strcmp(cmd, "exec-charon"))
		return exec_charon(argc, argv);
	if (strcmp(cmd, "init") && strcmp(cmd, "apply") && strcmp(cmd, "status")) {
		usage(stderr);
		return EX_USAGE;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&cl, opt, optarg) < 0)
			return EX_USAGE;
	if (optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		return EX_USAGE;
	}
	if (!strcmp(cmd, "init"))
		return cli_exit_code(ipsec_run_init(&cl.o));
	if (!strcmp(cmd, "status")) {
		if (!cl.o.vici && charon_vici_path(cl.o.run_dir, vici, sizeof(vici)) < 0) {
			log_err("--run-dir %s: too long", cl.o.run_dir);
			return EX_USAGE;
		}
		return cli_exit_code(ipsec_status(cl.o.vici ? cl.o.vici : vici, cl.json));
	}
	if (!cl.o.psk) {
		log_err("apply: no PSK (--psk or --psk-file; Backend.PSK in the network config)");
		return EX_USAGE;
	}
	cl.o.sigfd = sig_init(0);
	if (cl.o.sigfd < 0) {
		log_err("set up signals: %s", strerror(errno));
		return EX_OSERR;
	}
	cl.o.synced = sd_notify_ready;
	cl.o.synced_arg = getenv("NOTIFY_SOCKET");
	rc = cli_exit_code(ipsec_run_apply(&cl.o));
	explicit_bzero(cl.psk, sizeof(cl.psk));
	return rc;
}
