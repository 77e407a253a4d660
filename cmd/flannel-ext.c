/* flannel-ext - the extension backend: run operator commands for leases. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "backend/extension.h"
#include "base/cli.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/config_fetch.h"
#include "etcd/etcd_cli.h"
#include "etcd/etcd.h"
#include "ext/ext.h"
#include "model/config.h"
#include "model/env.h"
#include "model/event.h"
#include "model/event_stream.h"
#include "netlink/iface.h"
#include "status/state.h"

extern char **environ;

#define DEFAULT_TIMEOUT_MS 30000
#define CONFIG_MAX (1 << 20)

enum mode { MODE_APPLY, MODE_PRE_STARTUP, MODE_POST_STARTUP };

enum {
	OPT_ADD = 1,
	OPT_REMOVE,
	OPT_PRE,
	OPT_POST,
	OPT_CONFIG,
	OPT_TIMEOUT,
	OPT_BACKEND_TYPE,
	OPT_SUBNET_FILE,
	OPT_PUBLIC_IP,
	OPT_PUBLIC_IPV6,
	OPT_IFACE,
	OPT_PASS_ENV,
	OPT_STATE_DIR,
};

static const struct option options[] = {
	CLI_ETCD_OPTIONS,
	CLI_REMOTE_OPTIONS,
	{ "add", required_argument, NULL, OPT_ADD },
	{ "remove", required_argument, NULL, OPT_REMOVE },
	{ "pre-startup", required_argument, NULL, OPT_PRE },
	{ "post-startup", required_argument, NULL, OPT_POST },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "backend-type", required_argument, NULL, OPT_BACKEND_TYPE },
	{ "subnet-file", required_argument, NULL, OPT_SUBNET_FILE },
	{ "public-ip", required_argument, NULL, OPT_PUBLIC_IP },
	{ "public-ipv6", required_argument, NULL, OPT_PUBLIC_IPV6 },
	{ "iface", required_argument, NULL, OPT_IFACE },
	{ "pass-env", required_argument, NULL, OPT_PASS_ENV },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

struct args {
	enum mode mode;
	struct cli_etcd etcd;
	bool etcd_given;      /* --etcd-endpoints or --remote (or their FLANNELD_*) */
	bool cmd_given;       /* a command came from a flag */
	struct ext_config flags; /* commands given as flags */
	struct ext_config cfg;   /* flags, then the config for the rest */
	const char *config_file;
	const char *backend_type;
	const char *subnet_file;
	const char *public_ip, *public_ip6;
	const char *iface;
	const char *state_dir;   /* NULL: status/state.h's default */
	int64_t timeout_ms;
	char *pass_env;          /* --pass-env names, comma-joined; NULL: none */
	char **base_env;         /* PATH and those: what every command starts from */
	struct prefix net, net6; /* the config's networks; family 0: not read */
};

/* Set by SIGHUP: read the config again before the next event. */
static bool reload_wanted, told_ready;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flannel-ext [apply] [options] < events\n"
		"       flannel-ext pre-startup [options]\n"
		"       flannel-ext post-startup [options]\n"
		"Run the extension backend's commands through /bin/sh.\n\n"
		"  --add=CMD              SubnetAddCommand (overrides the config)\n"
		"  --remove=CMD           SubnetRemoveCommand\n"
		"  --pre-startup=CMD      PreStartupCommand\n"
		"  --post-startup=CMD     PostStartupCommand\n"
		"  --config=FILE          network config JSON with Backend.Type \"extension\"\n"
		"  --timeout=DURATION     per command, e.g. 30s, 500ms; 0: none (default 30s)\n"
		"  --backend-type=TYPE    apply leases of this type only; \"any\": all\n"
		"                         (default extension)\n"
		"  --subnet-file=FILE     post-startup: our subnet.env\n"
		"                         (default /run/flannel/subnet.env)\n"
		"  --public-ip=IP         post-startup: our PUBLIC_IP\n"
		"  --public-ipv6=IP       post-startup: our PUBLIC_IPV6\n"
		"  --iface=NAME|IP        post-startup: PUBLIC_IP(V6) from this interface\n"
		"                         (default: the default route's)\n"
		"  --pass-env=NAME[,NAME] give the commands these variables too\n"
		"                         (they get PATH and the lease variables only)\n"
		"  --state-dir=DIR        apply: the state file's directory\n"
		"                         (default /run/flannel/state; flannel-state(5))\n"
		"  -v N                   verbosity (0, 1, 2)\n"
		"The config is read from etcd (<prefix>/config) unless --config is given\n"
		"or a command flag is given without --etcd-endpoints or --remote.\n%s",
		cli_etcd_usage);
	fputs(cli_remote_usage, f);
}

static int set_cmd(struct args *a, enum ext_cmd k, const char *arg)
{
	a->cmd_given = true;
	if (ext_config_set(&a->flags, k, arg) == 0)
		return 0;
	log_err("set %s: out of memory", ext_cmd_key(k));
	return -1;
}

/* --pass-env may be given more than once: the names add up. */
static int add_pass_env(struct args *a, const char *arg)
{
	size_t old = a->pass_env ? strlen(a->pass_env) : 0, n = old + strlen(arg) + 2;
	char *s = fl_realloc(a->pass_env, n);

	if (!s) {
		log_err("--pass-env: out of memory");
		return -1;
	}
	snprintf(s + old, n - old, "%s%s", old ? "," : "", arg);
	a->pass_env = s;
	return 0;
}

static int parse_one(struct args *a, int opt, const char *arg)
{
	int r = cli_etcd_option(&a->etcd, opt, arg);

	if (opt == OPT_ETCD_ENDPOINTS || opt == OPT_ETCD_REMOTE)
		a->etcd_given = true;
	if (r)
		return r < 0 ? -1 : 0;
	switch (opt) {
	case OPT_ADD: return set_cmd(a, EXT_SUBNET_ADD, arg);
	case OPT_REMOVE: return set_cmd(a, EXT_SUBNET_REMOVE, arg);
	case OPT_PRE: return set_cmd(a, EXT_PRE_STARTUP, arg);
	case OPT_POST: return set_cmd(a, EXT_POST_STARTUP, arg);
	case OPT_CONFIG: a->config_file = arg; return 0;
	case OPT_BACKEND_TYPE: a->backend_type = strcmp(arg, "any") ? arg : NULL; return 0;
	case OPT_SUBNET_FILE: a->subnet_file = arg; return 0;
	case OPT_PUBLIC_IP: a->public_ip = arg; return 0;
	case OPT_PUBLIC_IPV6: a->public_ip6 = arg; return 0;
	case OPT_IFACE: a->iface = arg; return 0;
	case OPT_STATE_DIR: a->state_dir = arg; return 0;
	case OPT_PASS_ENV: return add_pass_env(a, arg);
	case OPT_TIMEOUT:
		if ((a->timeout_ms = duration_parse_ms(arg)) >= 0)
			return 0;
		log_err("--timeout %s: not a duration such as 30s or 500ms", arg);
		return -1;
	default:
		r = cli_common_option(opt, arg, "flannel-ext", usage);
		if (r > 0)
			exit(0);
		return r;
	}
}

/* The whole file, NUL-terminated; NULL with errno. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;

	if (!f)
		return NULL;
	buf = fl_malloc(CONFIG_MAX + 1);
	if (!buf)
		goto out;
	n = fread(buf, 1, CONFIG_MAX + 1, f);
	if (ferror(f) || n > CONFIG_MAX) {
		errno = ferror(f) ? EIO : EFBIG;
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = n;
out:
	fclose(f);
	return buf;
}

static int config_from_file(const char *path, struct net_config *net)
{
	char err[256], *text;
	size_t len = 0;
	int rc;

	text = read_file(path, &len);
	if (!text) {
		log_err("read config %s: %s", path, strerror(errno));
		return EX_CONFIG;
	}
	rc = config_parse(text, len, net, err, sizeof(err));
	free(text);
	if (rc < 0) {
		log_err("parse config %s: %s", path, err);
		return EX_CONFIG;
	}
	return 0;
}

static int config_from_etcd(struct args *a, struct net_config *net)
{
	struct etcd *e = NULL;
	char err[256];
	int rc = etcd_open(&a->etcd.opts, &e, err, sizeof(err));

	if (rc != ETCD_OK) {
		log_err("set up etcd client: %s", err);
		return cli_exit_code(etcd_err(rc));
	}
	rc = cli_exit_code(config_fetch(e, a->etcd.prefix, net));
	etcd_close(e);
	return rc;
}

/* Flags first, then the config file or etcd for what they left out. */
static int load_config(struct args *a, struct ext_config *dst)
{
	struct net_config net;
	const char *from = a->config_file;
	char err[256], where[600];
	int rc = 0;

	for (int k = 0; k < EXT_NCMD; k++)
		if (a->flags.cmd[k] && ext_config_set(dst, (enum ext_cmd)k, a->flags.cmd[k]) < 0) {
			log_err("set %s: out of memory", ext_cmd_key((enum ext_cmd)k));
			return EX_OSERR;
		}
	config_init(&net);
	if (a->config_file)
		rc = config_from_file(a->config_file, &net);
	else if (a->etcd_given || !a->cmd_given)
		rc = config_from_etcd(a, &net);
	else
		return 0;
	if (!from) {
		snprintf(where, sizeof(where), "%s/config", a->etcd.prefix);
		from = where;
	}
	if (!rc && ext_config_from_net(dst, &net, err, sizeof(err)) < 0) {
		log_err("use config %s: %s", from, err);
		rc = EX_CONFIG;
	}
	if (!rc) {
		a->net = net.network;
		a->net6 = net.network6;
	}
	config_clear(&net);
	return rc;
}

/* SIGHUP: new commands from the next event on; a bad config keeps the old. */
static void reload_config(struct args *a)
{
	struct ext_config fresh;

	reload_wanted = false;
	ext_config_init(&fresh);
	if (load_config(a, &fresh) != 0) {
		log_warn("reload config: keeping the previous commands");
		ext_config_clear(&fresh);
		return;
	}
	ext_config_clear(&a->cfg);
	a->cfg = fresh;
	log_notice("reload config: done");
}

static bool configured(const struct args *a, enum ext_cmd k)
{
	return a->cfg.cmd[k] && a->cfg.cmd[k][0];
}

static struct cmdrun_opts run_opts(const struct args *a)
{
	struct cmdrun_opts o = { .timeout_ms = a->timeout_ms, .cancel = sig_stop_flag() };

	return o;
}

struct apply_ctx {
	struct args *a;
	struct ext_applier *ap;
	struct state *st;
};

static int on_event(void *arg, const struct event *ev)
{
	struct apply_ctx *c = arg;

	if (reload_wanted)
		reload_config(c->a);
	state_event(c->st, ev);
	if (ext_applier_event(c->ap, ev) < 0)
		return errno == ECANCELED ? 1 : -1;
	/* Ready for systemd once the first snapshot's commands have run. */
	if (ev->type == EV_SYNC && !told_ready) {
		told_ready = true;
		sd_notify_ready(getenv("NOTIFY_SOCKET"));
	}
	return 0;
}

static int on_tick(void *arg)
{
	struct apply_ctx *c = arg;

	state_count_set(c->st, STATE_ERRORS, ext_applier_failures(c->ap));
	return state_tick(c->st);
}

/* SIGTERM and SIGINT end the run; SIGHUP reloads before the next event. */
static int on_signal(void *arg, int sig)
{
	(void)arg;
	if (sig == SIGHUP)
		reload_wanted = true;
	return sig == SIGTERM || sig == SIGINT;
}

/* Our subnets (subnet.env) and the networks, checked as the kernel appliers do. */
static void set_scope(const struct args *a, struct ext_applier *ap)
{
	struct subnet_env se;

	if (env_read(a->subnet_file, &se) < 0) {
		memset(&se, 0, sizeof(se));
		if (errno != ENOENT)
			log_warn("read subnet file %s: %s", a->subnet_file, strerror(errno));
	}
	ext_applier_set_scope(ap, &se.subnet, &se.subnet6,
			      a->net.addr.family ? &a->net : &se.network,
			      a->net6.addr.family ? &a->net6 : &se.network6);
}

static int do_apply(struct args *a)
{
	struct cmdrun_opts o = run_opts(a);
	struct apply_ctx c = { .a = a, .ap = ext_applier_new(&a->cfg, a->base_env, &o, a->backend_type) };
	struct event_sink s = { .event = on_event, .signal = on_signal, .sigfd = sig_fd(),
				.extra_fd = -1, .tick = on_tick, .arg = &c };
	int rc;

	if (!c.ap) {
		log_err("set up: out of memory");
		return EX_OSERR;
	}
	if (!configured(a, EXT_SUBNET_ADD) && !configured(a, EXT_SUBNET_REMOVE))
		log_notice("no SubnetAddCommand and no SubnetRemoveCommand: events are only read");
	set_scope(a, c.ap);
	c.st = state_new(a->state_dir, "flannel-ext", true);
	state_set_str(c.st, "backend", "extension");
	ext_applier_set_state(c.ap, c.st);
	rc = cli_exit_code(event_stream_run(STDIN_FILENO, &s));
	ext_applier_free(c.ap);
	state_free(c.st);
	return rc;
}

/* Run a startup command; 0, or EX_* after logging why. */
static int run_startup(struct args *a, enum ext_cmd k, char *const env[],
		       struct cmdrun_result *r)
{
	struct cmdrun_opts o = run_opts(a);
	char st[96];
	int rc;

	rc = cmdrun_shell(a->cfg.cmd[k], env, "\n", 1, &o, r);
	if (rc < 0) {
		log_err("run %s: start %s: %s", ext_cmd_key(k), CMDRUN_SHELL, strerror(errno));
		return errno == ECANCELED ? EX_TEMPFAIL : EX_OSERR;
	}
	ext_log_result(ext_cmd_key(k), r);
	if (cmdrun_ok(r))
		return 0;
	log_err("run %s: %s", ext_cmd_key(k), cmdrun_describe(r, st, sizeof(st)));
	return r->cancelled ? EX_TEMPFAIL : EXIT_FAILURE;
}

static int do_pre_startup(struct args *a)
{
	struct cmdrun_result r = { 0 };
	json_t *data = NULL;
	char err[160];
	int rc;

	if (!configured(a, EXT_PRE_STARTUP)) {
		log_notice("no PreStartupCommand: the lease gets no BackendData");
		return 0;
	}
	if ((rc = run_startup(a, EXT_PRE_STARTUP, a->base_env, &r)) != 0)
		goto out;
	data = ext_backend_data(r.output, r.output_len, err, sizeof(err));
	if (!data) {
		log_err("use %s output as BackendData: %s", ext_cmd_key(EXT_PRE_STARTUP), err);
		rc = EX_DATAERR;
		goto out;
	}
	if (json_dumpf(data, stdout, JSON_ENCODE_ANY) < 0 || putchar('\n') == EOF ||
	    fflush(stdout) == EOF) {
		log_err("write BackendData to stdout: %s", strerror(errno));
		rc = EX_IOERR;
	}
out:
	json_decref(data);
	cmdrun_result_clear(&r);
	return rc;
}

/* Given, or the address of --iface or of the default route's interface,
 * as upstream's PUBLIC_IP is the interface address; empty when none. */
static int public_addr(const struct args *a, int family, const char *given, struct ipaddr *out)
{
	const char *fam = family == AF_INET ? "" : "v6";
	struct iface ifc;
	int r;

	if (given) {
		if (addr_parse_family(given, family, out) == 0)
			return 0;
		log_err("--public-ip%s %s: not an IPv%d address", fam, given,
			family == AF_INET ? 4 : 6);
		return -1;
	}
	r = a->iface ? iface_lookup(a->iface, family, &ifc) : iface_default(family, &ifc);
	if (r == 0)
		*out = ifc.addr;
	else
		log_warn("find PUBLIC_IP%s: no IPv%d address on %s: left empty", fam,
			 family == AF_INET ? 4 : 6,
			 a->iface ? a->iface : "the default route's interface");
	return 0;
}

static int host_from_args(const struct args *a, struct ext_host *h)
{
	struct subnet_env se;

	memset(h, 0, sizeof(*h));
	if (env_read(a->subnet_file, &se) < 0) {
		log_err("read subnet file %s: %s", a->subnet_file, strerror(errno));
		return EX_CONFIG;
	}
	h->network = se.network;
	h->subnet = se.subnet;
	h->subnet6 = se.subnet6;
	if (!addr_is_set(&h->subnet.addr) && !addr_is_set(&h->subnet6.addr)) {
		log_err("read subnet file %s: no FLANNEL_SUBNET or FLANNEL_IPV6_SUBNET",
			a->subnet_file);
		return EX_DATAERR;
	}
	if ((a->public_ip || addr_is_set(&h->subnet.addr)) &&
	    public_addr(a, AF_INET, a->public_ip, &h->public_ip) < 0)
		return EX_USAGE;
	if ((a->public_ip6 || addr_is_set(&h->subnet6.addr)) &&
	    public_addr(a, AF_INET6, a->public_ip6, &h->public_ip6) < 0)
		return EX_USAGE;
	return 0;
}

static int do_post_startup(struct args *a)
{
	struct cmdrun_result r = { 0 };
	struct ext_host h;
	char **env = NULL;
	int rc;

	if (!configured(a, EXT_POST_STARTUP)) {
		log_notice("no PostStartupCommand: nothing to run");
		return 0;
	}
	if ((rc = host_from_args(a, &h)) != 0)
		return rc;
	if (!(env = ext_env_build(a->base_env, &h, true))) {
		log_err("build environment: out of memory");
		return EX_OSERR;
	}
	rc = run_startup(a, EXT_POST_STARTUP, env, &r);
	cmdrun_result_clear(&r);
	ext_env_free(env);
	return rc;
}

static int parse_mode(int argc, char **argv, struct args *a)
{
	static const char *const names[] = { "apply", "pre-startup", "post-startup" };

	if (argc < 2 || argv[1][0] == '-')
		return 1;
	for (int m = 0; m < 3; m++)
		if (strcmp(argv[1], names[m]) == 0) {
			a->mode = (enum mode)m;
			return 2;
		}
	log_err("unknown command: %s (apply, pre-startup, post-startup)", argv[1]);
	return -1;
}

static int setup_signals(void)
{
	if (sig_init(0) >= 0)
		return 0;
	log_err("set up signals: %s", strerror(errno));
	return EX_OSERR;
}

static int run(struct args *a)
{
	int rc = load_config(a, &a->cfg);

	if (rc)
		return rc;
	switch (a->mode) {
	case MODE_PRE_STARTUP: return do_pre_startup(a);
	case MODE_POST_STARTUP: return do_post_startup(a);
	default: return do_apply(a);
	}
}

int main(int argc, char **argv)
{
	struct args a = { .timeout_ms = DEFAULT_TIMEOUT_MS, .backend_type = "extension",
			  .subnet_file = "/run/flannel/subnet.env" };
	int opt, rc = 0, inserted = 0, start;

	log_init(argv[0], getenv("JOURNAL_STREAM") != NULL);
	ext_config_init(&a.cfg);
	ext_config_init(&a.flags);
	cli_etcd_init(&a.etcd);
	if ((start = parse_mode(argc, argv, &a)) < 0)
		return EX_USAGE;
	if (cli_env_twins(&argc, &argv, start, options, environ, "FLANNELD", &inserted) < 0) {
		log_err("read FLANNELD_* variables: out of memory");
		return EX_OSERR;
	}
	optind = start;
	while (!rc && (opt = getopt_long(argc, argv, "v:", options, NULL)) != -1)
		if (parse_one(&a, opt, optarg) < 0)
			rc = EX_USAGE;
	if (!rc && optind < argc) {
		log_err("unexpected argument: %s", argv[optind]);
		rc = EX_USAGE;
	}
	if (!rc)
		rc = setup_signals();
	if (!rc && !(a.base_env = ext_env_base(environ, a.pass_env))) {
		log_err("build environment: out of memory");
		rc = EX_OSERR;
	}
	if (!rc)
		rc = run(&a);
	ext_env_free(a.base_env);
	free(a.pass_env);
	ext_config_clear(&a.cfg);
	ext_config_clear(&a.flags);
	cli_env_twins_free(argv, start, inserted);
	return rc;
}
