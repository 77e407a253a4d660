/* flanneld.c - read each network's config, start its pieces in upstream's
 * order (backend init, lease, subnet.env, local setup, watch | applier),
 * restart what dies, stop cleanly leaving lease and routes in place. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/vxlan.h"
#include "base/caps.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/path.h"
#include "base/pidlock.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/config_fetch.h"
#include "etcd/etcd.h"
#include "flanneld/flanneld.h"
#include "flanneld/healthz.h"
#include "flanneld/supervise.h"
#include "status/report.h"
#include "status/state.h"

enum { G_LEASE, G_DATA, G_MASQ, G_PER_NET };

struct network {
	char name[64];            /* "" for the single network */
	char prefix[512];
	char subnet_file[512];
	char secret_file[600];    /* the backend's secret, 0600; "" when none */
	struct net_config cfg;
	const struct backend *be; /* from the table, by cfg.backend_type */
	char backend_data[8192];  /* the lease's BackendData (JSON text) */
	char backend_v6_data[8192];
	unsigned mtu;
	bool leased, started, ready;
	char *cfg_text;           /* the config as etcd has it, to see a change on SIGHUP */
	char line[8192];          /* partial line from flannel-lease */
	size_t line_len;
};

struct daemon {
	struct flanneld_opts *o;
	struct supervisor sv;
	struct piece pieces[FLANNELD_MAX_NETWORKS * 5];
	struct network nets[FLANNELD_MAX_NETWORKS];
	int n_nets;
	struct iface ifc, ifc6;
	struct etcd *e;
	int healthz_fd;           /* -1: not served */
	int metrics_fd;           /* -1: not served */
	struct state *state;      /* flanneld's own state file */
	bool have4, have6, told_ready;
	char **child_env;
	size_t n_env_own;         /* our own strings at the end of child_env */
};

/* The etcd password in a sealed memfd each piece gets as its fd 3 (never in
 * an environment or a command line); it stays open for the restarts to come. */
static int secret_fd(const char *secret)
{
	size_t len = strlen(secret);
	int fd = memfd_create("flannel-etcd-password", MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (write(fd, secret, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The children get our environment without FLANNELD_* (we pass flags), our
 * notify socket, and the etcd credentials out of sight of ps(1) and of
 * /proc/PID/environ: the password as a descriptor (/dev/fd/N). */
static char **child_environment(struct daemon *d)
{
	const struct etcd_opts *eo = &d->o->etcd.opts;
	size_t n = 0, k = 0, kept;
	int pw_fd = -1;
	char **env;

	while (d->o->envp && d->o->envp[n])
		n++;
	env = fl_calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = d->o->envp[i];

		if (strncmp(v, "FLANNELD_", 9) != 0 && strncmp(v, "NOTIFY_SOCKET=", 14) != 0)
			env[k++] = (char *)v;
	}
	kept = k;
	if (asprintf(&env[k++], "NOTIFY_SOCKET=%s", d->sv.notify_name) < 0)
		goto fail;
	if (eo->username && asprintf(&env[k++], "FLANNELD_ETCD_USERNAME=%s", eo->username) < 0)
		goto fail;
	if (eo->password && (pw_fd = secret_fd(eo->password)) < 0) {
		log_err("pass the etcd password to the tools: %s", strerror(errno));
		goto fail;
	}
	/* The pieces get it as their fd 3 (supervise.c), and nothing else. */
	if (pw_fd >= 0 && asprintf(&env[k++], "FLANNELD_ETCD_PASSWORD_FILE=/dev/fd/3") < 0)
		goto fail;
	d->sv.secret_fd = pw_fd;
	env[k] = NULL;
	d->n_env_own = k - kept;
	return env;
fail:
	if (pw_fd >= 0)
		close(pw_fd);
	while (k > kept)
		free(env[--k]);
	free(env);
	return NULL;
}

/* One command line, quoted for sh, on stdout (--dry-run). */
static void print_piece(const struct piece *p)
{
	for (int i = 0; i < p->argc; i++) {
		const char *a = p->argv[i];
		bool plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789-_=./:,@%+") == strlen(a);

		if (i)
			putchar(' ');
		if (plain) {
			fputs(a, stdout);
			continue;
		}
		putchar('\'');
		for (; *a; a++) {
			if (*a == '\'')
				fputs("'\\''", stdout);
			else
				putchar(*a);
		}
		putchar('\'');
	}
	putchar('\n');
}

static struct piece *new_piece(struct daemon *d, const char *name, int group, const char *tool)
{
	struct piece *p;

	if (d->sv.n >= (int)(sizeof(d->pieces) / sizeof(d->pieces[0])))
		return NULL;
	p = &d->pieces[d->sv.n++];
	memset(p, 0, sizeof(*p));
	p->out_fd = -1;
	p->group = group;
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (piece_arg(p, "%s/%s", d->o->bin_dir, tool) < 0)
		return NULL;
	return p;
}

/* Client mode: the pieces ask the same flannel-servers, for this network. */
static int remote_args(struct daemon *d, struct piece *p, const struct network *n)
{
	const struct etcd_opts *eo = &d->o->etcd.opts;
	int bad = piece_arg(p, "--remote=%s", eo->remote);

	bad |= piece_arg(p, "--etcd-prefix=%s", n->prefix);
	if (n->name[0])
		bad |= piece_arg(p, "--remote-network=%s", n->name);
	if (eo->remote_cafile)
		bad |= piece_arg(p, "--remote-cafile=%s", eo->remote_cafile);
	if (eo->remote_certfile)
		bad |= piece_arg(p, "--remote-certfile=%s", eo->remote_certfile);
	if (eo->remote_keyfile)
		bad |= piece_arg(p, "--remote-keyfile=%s", eo->remote_keyfile);
	if (eo->timeout_ms)
		bad |= piece_arg(p, "--etcd-timeout=%ldms", eo->timeout_ms);
	return bad ? -1 : 0;
}

static int etcd_args(struct daemon *d, struct piece *p, const struct network *n)
{
	const struct etcd_opts *eo = &d->o->etcd.opts;
	int bad = 0;

	if (eo->remote)
		return remote_args(d, p, n);
	if (eo->endpoints)
		bad |= piece_arg(p, "--etcd-endpoints=%s", eo->endpoints);
	bad |= piece_arg(p, "--etcd-prefix=%s", n->prefix);
	if (eo->cafile)
		bad |= piece_arg(p, "--etcd-cafile=%s", eo->cafile);
	if (eo->certfile)
		bad |= piece_arg(p, "--etcd-certfile=%s", eo->certfile);
	if (eo->keyfile)
		bad |= piece_arg(p, "--etcd-keyfile=%s", eo->keyfile);
	if (eo->timeout_ms)
		bad |= piece_arg(p, "--etcd-timeout=%ldms", eo->timeout_ms);
	return bad ? -1 : 0;
}

/* Extension commands get PATH and the lease variables, and what the operator names. */
static int ext_args(struct daemon *d, struct piece *p)
{
	return d->o->ext_pass_env ? piece_arg(p, "--pass-env=%s", d->o->ext_pass_env) : 0;
}

/* -v reaches every piece, last on its command line. */
static int verbose_arg(struct daemon *d, struct piece *p)
{
	return d->o->verbosity ? piece_arg(p, "-v%d", d->o->verbosity) : 0;
}

/* --state-dir for the long-running pieces; one directory per network. */
static int state_arg(struct daemon *d, struct piece *p, const struct network *n)
{
	const char *dir = d->o->state_dir ? d->o->state_dir : STATE_DIR_DEFAULT;

	if (n->name[0])
		return piece_arg(p, "--state-dir=%s/%s", dir, n->name);
	return d->o->state_dir ? piece_arg(p, "--state-dir=%s", dir) : 0;
}

static int common_net_args(struct daemon *d, struct piece *p, const struct network *n)
{
	char a[ADDR_STRLEN];
	int bad = piece_arg(p, "--subnet-file=%s", n->subnet_file);

	if (d->have4)
		bad |= piece_arg(p, "--public-ip=%s",
				 d->o->public_ip ? d->o->public_ip :
						   addr_format(&d->ifc.addr, a, sizeof(a)));
	if (d->have6)
		bad |= piece_arg(p, "--public-ipv6=%s",
				 d->o->public_ip6 ? d->o->public_ip6 :
						    addr_format(&d->ifc6.addr, a, sizeof(a)));
	bad |= piece_arg(p, "--iface=%s", d->have4 ? d->ifc.name : d->ifc6.name);
	return bad ? -1 : 0;
}

/* The host, as a backend sees it, for one family. */
static struct backend_host host_of(struct daemon *d, int family, char *ip, size_t len)
{
	bool v6 = family == AF_INET6;
	const char *given = v6 ? d->o->public_ip6 : d->o->public_ip;
	const struct iface *ifc = v6 ? &d->ifc6 : &d->ifc;

	return (struct backend_host){ .family = family, .iface = ifc->name,
				      .public_ip = given ? given : addr_format(&ifc->addr, ip, len) };
}

/* The backend's own arguments for a step; the common ones follow. */
static int backend_args(struct daemon *d, struct piece *p, const struct network *n,
			enum backend_step step, int family)
{
	char ip[ADDR_STRLEN];
	struct backend_host h = host_of(d, family, ip, sizeof(ip));
	struct strv av = { 0 };
	int bad = piece_arg(p, "%s", n->be->step_cmd[step]);

	h.secret_file = n->secret_file[0] ? n->secret_file : NULL;
	if (n->be->args)
		n->be->args(&n->cfg, step, &h, &av);
	bad |= strv_status(&av);
	for (int i = 0; !bad && i < av.n; i++)
		bad |= piece_arg(p, "%s", av.v[i]);
	strv_clear(&av);
	if (n->be->etcd && step != BACKEND_APPLY)
		bad |= etcd_args(d, p, n);
	if (strcmp(n->be->tool, "flannel-ext") == 0)
		bad |= ext_args(d, p);
	bad |= verbose_arg(d, p);
	return bad ? -1 : 0;
}

static int network_arg(struct piece *p, const struct network *n)
{
	char a[ADDR_STRLEN];

	if (!n->cfg.enable_ipv4)
		return 0;
	return piece_arg(p, "--network=%s", prefix_format(&n->cfg.network, a, sizeof(a)));
}

static int primary_family(const struct daemon *d)
{
	return d->have4 ? AF_INET : AF_INET6;
}

/* One INIT run of the backend's tool: its stdout is BackendData. */
static int run_init(struct daemon *d, struct network *n, int family, char *out, size_t len)
{
	bool v6 = n->be->init_per_family && family == AF_INET6;
	char name[32];
	struct piece *p;
	int status;

	snprintf(name, sizeof(name), "%s-%s%s", n->be->name, n->be->step_cmd[BACKEND_INIT],
		 v6 ? "-v6" : "");
	p = new_piece(d, name, -1, n->be->tool);
	if (!p)
		return -1;
	if (backend_args(d, p, n, BACKEND_INIT, family) < 0) {
		status = -1;
	} else if (d->o->dry_run) {
		print_piece(p);
		snprintf(out, len, "$(%s %s%s ...)", n->be->tool, n->be->step_cmd[BACKEND_INIT],
			 v6 ? " -6" : "");
		status = 0;
	} else {
		status = supervise_run_capture(&d->sv, p, out, len);
	}
	d->sv.n--; /* a one-off: not supervised */
	piece_clear(p);
	out[strcspn(out, "\n")] = '\0';
	return status;
}

/* The backend's secret into <subnet file>.<backend>-secret, mode 0600,
 * replaced atomically: the tool reads it from there, not from its command
 * line. */
static int write_secret(struct network *n, bool dry_run)
{
	const char *secret = n->be->secret ? n->be->secret(&n->cfg) : NULL;
	char tmp[640];
	size_t len;
	int fd, bad;

	n->secret_file[0] = '\0';
	if (!secret)
		return 0;
	len = strlen(secret);
	snprintf(n->secret_file, sizeof(n->secret_file), "%s.%s-secret", n->subnet_file,
		 n->be->name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", n->secret_file);
	if (dry_run)
		return 0;
	if (path_mkdir_parents(tmp) < 0)
		goto fail;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	bad = fchmod(fd, 0600) < 0 || write(fd, secret, len) != (ssize_t)len ||
	      write(fd, "\n", 1) != 1 || fsync(fd) < 0;
	bad |= close(fd) < 0;
	if (bad || rename(tmp, n->secret_file) < 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	log_err("write %s (the %s backend's secret): %s", n->secret_file, n->be->name,
		strerror(errno));
	return -1;
}

/* Step 2: the backend's own start, whose output is the lease's BackendData. */
static int backend_init(struct daemon *d, struct network *n)
{
	const char *type = n->be->name;
	int status = 0;

	n->backend_data[0] = n->backend_v6_data[0] = '\0';
	if (!n->be->step_cmd[BACKEND_INIT])
		return 0;
	if (!n->be->init_per_family) {
		status = run_init(d, n, primary_family(d), n->backend_data,
				  sizeof(n->backend_data));
	} else {
		if (n->cfg.enable_ipv4)
			status = run_init(d, n, AF_INET, n->backend_data, sizeof(n->backend_data));
		if (status == 0 && n->cfg.enable_ipv6)
			status = run_init(d, n, AF_INET6, n->backend_v6_data,
					  sizeof(n->backend_v6_data));
	}
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_err("%s backend init for network %s failed (%s %d)", type,
			n->name[0] ? n->name : "(default)",
			WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		return WIFEXITED(status) && WEXITSTATUS(status) ? cli_err_of_exit(WEXITSTATUS(status))
							 : FL_ERR_FAILED;
	}
	return 0;
}

static int plan_lease(struct daemon *d, struct network *n, int base)
{
	struct piece *p = new_piece(d, "lease", base + G_LEASE, "flannel-lease");

	if (!p || etcd_args(d, p, n) < 0 || common_net_args(d, p, n) < 0 ||
	    piece_arg(p, "--mtu=%u", n->mtu) < 0 || state_arg(d, p, n) < 0)
		return -1;
	p->capture_stdout = true;
	if (n->be->lease_type && piece_arg(p, "--backend-type=%s", n->be->lease_type) < 0)
		return -1;
	if (n->backend_data[0] && piece_arg(p, "--backend-data=%s", n->backend_data) < 0)
		return -1;
	if (n->backend_v6_data[0] &&
	    piece_arg(p, "--backend-v6-data=%s", n->backend_v6_data) < 0)
		return -1;
	if (d->o->ip_masq && piece_arg(p, "--ip-masq") < 0)
		return -1;
	if (d->o->renew_margin &&
	    piece_arg(p, "--subnet-lease-renew-margin=%s", d->o->renew_margin) < 0)
		return -1;
	return verbose_arg(d, p);
}

static int plan_data(struct daemon *d, struct network *n, int base)
{
	struct piece *w, *a;

	if (!n->be->tool || !n->be->step_cmd[BACKEND_APPLY])
		return 0;
	w = new_piece(d, "watch", base + G_DATA, "flannel-watch");
	if (!w || etcd_args(d, w, n) < 0 || piece_arg(w, "--subnet-file=%s", n->subnet_file) < 0 ||
	    state_arg(d, w, n) < 0 || verbose_arg(d, w) < 0)
		return -1;
	a = new_piece(d, n->be->name, base + G_DATA, n->be->tool);
	if (!a || backend_args(d, a, n, BACKEND_APPLY, primary_family(d)) < 0 ||
	    (n->be->etcd && etcd_args(d, a, n) < 0) ||
	    piece_arg(a, "--subnet-file=%s", n->subnet_file) < 0 || state_arg(d, a, n) < 0)
		return -1;
	if (n->be->kernel &&
	    (network_arg(a, n) < 0 || (d->o->blackhole && piece_arg(a, "--blackhole-route") < 0) ||
	     (d->o->route_shape && piece_arg(a, "--route-shape=%s", d->o->route_shape) < 0)))
		return -1;
	return 0;
}

static int plan_masq(struct daemon *d, struct network *n, int base)
{
	struct piece *p;
	int bad;

	if (!d->o->ip_masq && !d->o->forward_rules)
		return 0;
	p = new_piece(d, "masq", base + G_MASQ, "flannel-masq");
	if (!p)
		return -1;
	bad = piece_arg(p, "watch") | piece_arg(p, "--subnet-file=%s", n->subnet_file) |
	      piece_arg(p, "--ip-masq=%s", d->o->ip_masq ? "true" : "false") |
	      piece_arg(p, "--iptables-forward-rules=%s", d->o->forward_rules ? "true" : "false");
	if (d->o->fully_random_disable)
		bad |= piece_arg(p, "--ip-masq-fully-random-disable");
	/* One table per network in multi-network mode. */
	if (n->name[0])
		bad |= piece_arg(p, "--table=flannel-%s", n->name);
	bad |= verbose_arg(d, p);
	return bad ? -1 : 0;
}

/* Step 4: the backend's local setup once the subnet is known. */
static int post_startup(struct daemon *d, struct network *n)
{
	char out[4096];
	struct piece *p;
	int status;

	if (!n->be->step_cmd[BACKEND_POST])
		return 0;
	p = new_piece(d, "post-startup", -1, n->be->tool);
	if (!p || backend_args(d, p, n, BACKEND_POST, primary_family(d)) < 0 ||
	    common_net_args(d, p, n) < 0)
		return FL_ERR_OS;
	status = supervise_run_capture(&d->sv, p, out, sizeof(out));
	d->sv.n--;
	piece_clear(p);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_err("%s %s failed for network %s", n->be->tool, n->be->step_cmd[BACKEND_POST],
			n->name[0] ? n->name : "(default)");
		return FL_ERR_FAILED;
	}
	return 0;
}

static int net_index(int group)
{
	return group / G_PER_NET;
}

/* flannel-lease printed a line: the first "acquired" starts the data path. */
static int on_lease_line(struct daemon *d, struct network *n, const char *line)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	int rc = 0;

	if (type && (strcmp(type, "acquired") == 0 || strcmp(type, "reacquired") == 0)) {
		log_notice("network %s: lease %s (%s)", n->name[0] ? n->name : "(default)",
			   json_string_value(json_object_get(j, "subnet")) ?: "?", type);
		if (!n->leased || strcmp(type, "reacquired") == 0)
			rc = post_startup(d, n);
		n->leased = true;
	}
	json_decref(j);
	return rc;
}

static int read_lease_output(struct daemon *d, struct piece *p)
{
	struct network *n = &d->nets[net_index(p->group)];
	ssize_t r = read(p->out_fd, n->line + n->line_len, sizeof(n->line) - 1 - n->line_len);
	char *nl;
	int rc = 0;

	if (r <= 0) {
		close(p->out_fd);
		p->out_fd = -1;
		return 0;
	}
	n->line_len += (size_t)r;
	n->line[n->line_len] = '\0';
	while (!rc && (nl = strchr(n->line, '\n'))) {
		*nl = '\0';
		rc = on_lease_line(d, n, n->line);
		n->line_len -= (size_t)(nl + 1 - n->line);
		memmove(n->line, nl + 1, n->line_len + 1);
	}
	if (n->line_len == sizeof(n->line) - 1)
		n->line_len = 0; /* a line this long is not ours: drop it */
	return rc;
}

static bool group_running(struct daemon *d, int group)
{
	for (int i = 0; i < d->sv.n; i++)
		if (d->pieces[i].group == group && d->pieces[i].pid > 0)
			return true;
	return false;
}

static bool group_exists(struct daemon *d, int group)
{
	for (int i = 0; i < d->sv.n; i++)
		if (d->pieces[i].group == group)
			return true;
	return false;
}

static int64_t *group_restart_at(struct daemon *d, int group)
{
	for (int i = 0; i < d->sv.n; i++)
		if (d->pieces[i].group == group)
			return &d->pieces[i].restart_at_ms;
	return NULL;
}

static int start_group(struct daemon *d, int group)
{
	if (supervise_start_group(&d->sv, group) < 0) {
		log_err("start pieces: %s", strerror(errno));
		return FL_ERR_OS;
	}
	return 0;
}

/* A piece ended: a configuration or usage error ends flanneld too (a restart
 * would not help); anything else restarts its group with a backoff. */
static int on_death(struct daemon *d, struct piece *p, int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	enum fl_err kind = cli_err_of_exit(code);
	int64_t now = mono_ms();
	int64_t *at;

	if (WIFSIGNALED(status))
		log_warn("%s (pid %d) killed by signal %d", p->name, (int)p->last_pid,
			 WTERMSIG(status));
	else
		log_warn("%s exited with status %d", p->name, code);
	if (kind == FL_ERR_USAGE || kind == FL_ERR_DATA || kind == FL_ERR_PERM || kind == FL_ERR_CONFIG)
		return kind;
	/* Stop the rest of a pipeline: its partner cannot go on alone. */
	for (int i = 0; i < d->sv.n; i++)
		if (d->pieces[i].group == p->group && d->pieces[i].pid > 0)
			kill(d->pieces[i].pid, SIGTERM);
	p->backoff_ms = now - p->started_ms > 60000 || !p->backoff_ms ? 200 : p->backoff_ms * 2;
	if (p->backoff_ms > 30000)
		p->backoff_ms = 30000;
	at = group_restart_at(d, p->group);
	*at = now + p->backoff_ms;
	p->restarts++;
	log_notice("restarting %s in %lld ms", p->name, (long long)p->backoff_ms);
	return 0;
}

static void maybe_ready(struct daemon *d)
{
	for (int i = 0; i < d->n_nets; i++)
		if (!d->nets[i].ready)
			return;
	if (d->told_ready)
		return;
	d->told_ready = true;
	state_synced(d->state, 0);
	log_notice("all networks synced: ready");
	if (sd_notify_send(getenv("NOTIFY_SOCKET"), "READY=1") < 0)
		log_warn("notify systemd: %s", strerror(errno));
}

/* READY=1 from an applier: its first sync is in the kernel (or, for the
 * extension backend, its commands have run). */
static void on_notify(struct daemon *d)
{
	char buf[512];
	pid_t from;

	while (supervise_notify_read(&d->sv, buf, sizeof(buf), &from) >= 0) {
		if (!strstr(buf, "READY=1"))
			continue;
		for (int i = 0; i < d->sv.n; i++) {
			struct piece *p = &d->pieces[i];

			if (p->pid == from && p->pid > 0 && p->group % G_PER_NET == G_DATA &&
			    strcmp(p->name, "watch") != 0)
				d->nets[net_index(p->group)].ready = true;
		}
	}
	maybe_ready(d);
}

/* Start what is due: data pieces after the lease, restarts after backoff. */
static int start_due(struct daemon *d)
{
	int64_t now = mono_ms();

	for (int i = 0; i < d->n_nets; i++) {
		struct network *n = &d->nets[i];

		for (int g = 0; g < G_PER_NET; g++) {
			int group = i * G_PER_NET + g;
			int64_t *at = group_restart_at(d, group);
			int rc;

			if (!group_exists(d, group) || group_running(d, group) || !at || *at > now)
				continue;
			if (g != G_LEASE && !n->leased)
				continue;
			*at = INT64_MAX;
			rc = start_group(d, group);
			if (rc)
				return rc;
			if (g == G_DATA && n->be->tool)
				n->started = true;
		}
		if (!n->be->tool && n->leased)
			n->ready = true;
	}
	maybe_ready(d);
	return 0;
}

static int64_t next_due(struct daemon *d)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < d->sv.n; i++)
		if (d->pieces[i].pid == 0 && d->pieces[i].restart_at_ms < best)
			best = d->pieces[i].restart_at_ms;
	return best;
}

static int handle_signals(struct daemon *d, bool *stop, bool *hup)
{
	int sig, status, rc = 0;
	bool chld = false;
	struct piece *p;

	/* Every pending signal first: a SIGTERM to our whole process group
	 * comes with the pieces' deaths, which are then one stop, not crashes
	 * to restart one by one. */
	while ((sig = sig_next())) {
		if (sig == SIGTERM || sig == SIGINT)
			*stop = true;
		else if (sig == SIGHUP)
			*hup = true;
		else if (sig == SIGCHLD)
			chld = true;
	}
	while (chld && ((p = supervise_reap(&d->sv, &status)) || waitpid(-1, NULL, WNOHANG) > 0))
		if (p && !*stop && !rc)
			rc = on_death(d, p, status);
	return rc;
}

/* Read one network's config again: 1 changed (*cfg, *text filled), 0 the
 * same, -1 unusable (logged: the running one stays). */
static int reread_config(struct daemon *d, struct network *n, struct net_config *cfg,
			 char **text)
{
	const struct backend *be;
	char key[600], why[512];
	struct etcd_kv kv;
	int rc;

	snprintf(key, sizeof(key), "%s/config", n->prefix);
	rc = etcd_get(d->e, key, &kv, NULL);
	if (rc != ETCD_OK) {
		log_err("reload: read config %s: %s; keeping the running one", key,
			rc == ETCD_NOTFOUND ? "not found" : etcd_error(d->e));
		return -1;
	}
	if (n->cfg_text && strlen(n->cfg_text) == kv.value_len &&
	    memcmp(n->cfg_text, kv.value, kv.value_len) == 0) {
		etcd_kv_clear(&kv);
		return 0;
	}
	config_init(cfg);
	rc = config_parse(kv.value, kv.value_len, cfg, why, sizeof(why));
	*text = rc < 0 ? NULL : fl_strndup(kv.value, kv.value_len);
	etcd_kv_clear(&kv);
	be = rc < 0 ? NULL : backend_find(cfg->backend_type);
	if (rc == 0 && !be)
		snprintf(why, sizeof(why), "backend \"%s\" is not implemented", cfg->backend_type);
	if (rc == 0 && be && be->check && be->check(cfg, why, sizeof(why)) < 0)
		rc = -1;
	if (rc < 0 || !be || !*text) {
		log_err("reload: parse config %s: %s; keeping the running one", key,
			*text || rc < 0 ? why : strerror(ENOMEM));
		free(*text);
		config_clear(cfg);
		return -1;
	}
	return 1;
}

static int plan(struct daemon *d);

/* The config's text as read at start, to tell a change on SIGHUP. */
static void remember_config_text(struct daemon *d, struct network *n)
{
	char key[600];
	struct etcd_kv kv;

	snprintf(key, sizeof(key), "%s/config", n->prefix);
	if (etcd_get(d->e, key, &kv, NULL) != ETCD_OK)
		return;
	free(n->cfg_text);
	n->cfg_text = fl_strndup(kv.value, kv.value_len);
	etcd_kv_clear(&kv);
}

/* SIGHUP (ExecReload): read every config again.  A changed one restarts
 * all pieces with it; else every piece is asked to reconcile (SIGHUP). */
static int reload(struct daemon *d)
{
	struct net_config cfg[FLANNELD_MAX_NETWORKS];
	char *text[FLANNELD_MAX_NETWORKS] = { 0 };
	int changed[FLANNELD_MAX_NETWORKS], any = 0, bad = 0;

	log_notice("reload: re-reading the configuration (SIGHUP)");
	for (int i = 0; i < d->n_nets; i++) {
		changed[i] = reread_config(d, &d->nets[i], &cfg[i], &text[i]);
		bad |= changed[i] < 0;
		any |= changed[i] > 0;
	}
	if (bad || !any) {
		for (int i = 0; i < d->n_nets; i++)
			if (changed[i] > 0) {
				config_clear(&cfg[i]);
				free(text[i]);
			}
		if (bad)
			return 0;
		log_notice("reload: configuration unchanged, each piece reconciles (SIGHUP)");
		for (int i = 0; i < d->sv.n; i++)
			if (d->pieces[i].pid > 0)
				kill(d->pieces[i].pid, SIGHUP);
		return 0;
	}
	log_notice("reload: configuration changed, restarting the pieces with it");
	supervise_stop_all(&d->sv, 5000);
	for (int i = 0; i < d->sv.n; i++)
		piece_clear(&d->pieces[i]);
	d->sv.n = 0;
	for (int i = 0; i < d->n_nets; i++) {
		struct network *n = &d->nets[i];

		if (changed[i] > 0) {
			log_notice("reload: network %s: new config %s", n->name[0] ? n->name : "(default)",
				   text[i]);
			config_clear(&n->cfg);
			n->cfg = cfg[i];
			free(n->cfg_text);
			n->cfg_text = text[i];
			n->be = backend_find(n->cfg.backend_type);
		}
		n->leased = n->started = n->ready = false;
		n->line_len = 0;
	}
	return plan(d);
}

/* /metrics: the report of the state directory, made when asked. */
static char *metrics_body(void *arg)
{
	struct daemon *d = arg;
	struct report r;
	char *m = NULL;

	state_flush(d->state);
	if (report_collect(&r, d->o->state_dir ? d->o->state_dir : STATE_DIR_DEFAULT, true) ==
	    REPORT_OK)
		m = report_metrics(&r);
	report_free(&r);
	return m;
}

static int loop(struct daemon *d)
{
	struct pollfd fds[4 + FLANNELD_MAX_NETWORKS];
	struct piece *owner[4 + FLANNELD_MAX_NETWORKS];
	bool stop = false, hup = false;
	int rc = 0;

	while (!rc && !stop) {
		int64_t due = next_due(d), wait;
		int nfds = 0;

		rc = start_due(d);
		if (rc)
			break;
		fds[nfds++] = (struct pollfd){ .fd = sig_fd(), .events = POLLIN };
		fds[nfds++] = (struct pollfd){ .fd = d->sv.notify_fd, .events = POLLIN };
		fds[nfds++] = (struct pollfd){ .fd = d->healthz_fd, .events = POLLIN };
		fds[nfds++] = (struct pollfd){ .fd = d->metrics_fd, .events = POLLIN };
		for (int i = 0; i < d->sv.n && nfds < (int)(sizeof(fds) / sizeof(fds[0])); i++)
			if (d->pieces[i].out_fd >= 0) {
				owner[nfds] = &d->pieces[i];
				fds[nfds++] = (struct pollfd){ .fd = d->pieces[i].out_fd, .events = POLLIN };
			}
		wait = due == INT64_MAX ? 1000 : due - mono_ms();
		poll(fds, (nfds_t)nfds, (int)(wait < 0 ? 0 : wait > 1000 ? 1000 : wait));
		rc = handle_signals(d, &stop, &hup);
		if (fds[1].revents & POLLIN)
			on_notify(d);
		if (fds[2].revents & POLLIN)
			healthz_serve(d->healthz_fd, d->told_ready);
		if (fds[3].revents & POLLIN)
			healthz_serve_metrics(d->metrics_fd, metrics_body, d);
		supervise_publish(&d->sv, d->state);
		state_tick(d->state);
		for (int i = 4; !rc && i < nfds; i++)
			if (fds[i].revents & (POLLIN | POLLHUP) && owner[i]->out_fd == fds[i].fd)
				rc = read_lease_output(d, owner[i]);
		if (!rc && !stop && hup) {
			hup = false;
			rc = reload(d);
		}
	}
	log_notice("stopping: leases and routes stay in place");
	supervise_stop_all(&d->sv, 5000);
	return rc;
}

/* The backend from the table, and its Backend keys checked. */
static int check_backend(struct network *n)
{
	const char *net = n->name[0] ? n->name : "(default)";
	char err[256];

	n->be = backend_find(n->cfg.backend_type);
	if (!n->be) {
		log_err("network %s: backend \"%s\" is not implemented by flanneld here "
			"(supported: %s)", net, n->cfg.backend_type, backend_names());
		return FL_ERR_CONFIG;
	}
	if (n->cfg.enable_ipv6 && !n->be->ipv6) {
		log_err("network %s: backend %s does not support EnableIPv6", net, n->be->name);
		return FL_ERR_CONFIG;
	}
	if (n->be->check && n->be->check(&n->cfg, err, sizeof(err)) < 0) {
		log_err("network %s: parse config %s/config: %s", net, n->prefix, err);
		return FL_ERR_CONFIG;
	}
	return 0;
}

/* Two vxlan networks with one VNI would share one device: refuse it. */
static int check_vnis(struct daemon *d)
{
	uint32_t vni[FLANNELD_MAX_NETWORKS];
	char err[160];

	for (int i = 0; i < d->n_nets; i++) {
		struct vxlan_conf vc = { .vni = 1 };
		struct vxlan_apply ap = { 0 };

		vni[i] = 0;
		if (d->nets[i].be != &backend_vxlan)
			continue;
		if (d->nets[i].cfg.backend &&
		    vxlan_conf_from_json(d->nets[i].cfg.backend, &vc, &ap, err, sizeof(err)) < 0)
			continue; /* check_backend said so already */
		vni[i] = vc.vni;
		for (int j = 0; j < i; j++)
			if (vni[j] == vni[i]) {
				log_err("networks %s and %s both use vxlan VNI %u: give each its own "
					"Backend.VNI", d->nets[j].name, d->nets[i].name, vni[i]);
				return FL_ERR_CONFIG;
			}
	}
	return 0;
}

static int setup_networks(struct daemon *d)
{
	const char *list = d->o->networks;
	char name[64];
	int i = 0;

	if (!list || !*list) {
		struct network *n = &d->nets[d->n_nets++];

		snprintf(n->prefix, sizeof(n->prefix), "%s", d->o->etcd.prefix);
		snprintf(n->subnet_file, sizeof(n->subnet_file), "%s", d->o->subnet_file);
		return 0;
	}
	while (*list) {
		size_t len = strcspn(list, ",");
		struct network *n;

		if (len == 0 || len >= sizeof(n->name) || memchr(list, '/', len)) {
			log_err("--networks: \"%.*s\" is not a network name", (int)len, list);
			return FL_ERR_USAGE;
		}
		if (i >= FLANNELD_MAX_NETWORKS) {
			log_err("--networks: more than %d networks", FLANNELD_MAX_NETWORKS);
			return FL_ERR_USAGE;
		}
		n = &d->nets[i++];
		snprintf(name, sizeof(name), "%.*s", (int)len, list);
		snprintf(n->name, sizeof(n->name), "%s", name);
		snprintf(n->prefix, sizeof(n->prefix), "%s/%s", d->o->etcd.prefix, name);
		snprintf(n->subnet_file, sizeof(n->subnet_file), "%s/%s.env", d->o->subnet_dir, name);
		list += len;
		if (*list == ',')
			list++;
	}
	d->n_nets = i;
	return 0;
}

static int choose_iface(struct daemon *d)
{
	bool want4 = false, want6 = false;
	char err[256];

	for (int i = 0; i < d->n_nets; i++) {
		want4 |= d->nets[i].cfg.enable_ipv4;
		want6 |= d->nets[i].cfg.enable_ipv6;
	}
	if (want4) {
		if (iface_select(d->o->ifaces, d->o->n_ifaces, d->o->iface_regex, d->o->n_regex,
				 d->o->can_reach, AF_INET, &d->ifc, err, sizeof(err)) < 0) {
			log_err("choose the interface: %s", err);
			return FL_ERR_CONFIG;
		}
		d->have4 = true;
		log_notice("using interface %s, address %s", d->ifc.name,
			   addr_format(&d->ifc.addr, err, sizeof(err)));
	}
	if (want6) {
		if (iface_select(d->o->ifaces, d->o->n_ifaces, d->o->iface_regex, d->o->n_regex,
				 d->o->can_reach, AF_INET6, &d->ifc6, err, sizeof(err)) < 0) {
			log_err("choose the IPv6 interface: %s", err);
			return FL_ERR_CONFIG;
		}
		d->have6 = true;
	}
	return 0;
}

static int plan(struct daemon *d)
{
	for (int i = 0; i < d->n_nets; i++) {
		struct network *n = &d->nets[i];
		int base = i * G_PER_NET, rc;

		n->mtu = n->be->mtu(&n->cfg, d->have4 ? d->ifc.mtu : d->ifc6.mtu);
		if (write_secret(n, d->o->dry_run) < 0)
			return FL_ERR_OS;
		rc = backend_init(d, n);
		if (rc)
			return rc;
		if (plan_lease(d, n, base) < 0 || plan_data(d, n, base) < 0 ||
		    plan_masq(d, n, base) < 0) {
			log_err("build the command lines: %s", strerror(errno));
			return FL_ERR_INTERNAL;
		}
	}
	/* Everything is due now; start_due holds the data path and masq back
	 * until the lease is there. */
	for (int i = 0; i < d->sv.n; i++) {
		d->pieces[i].restart_at_ms = 0;
		if (!d->o->dry_run && access(d->pieces[i].argv[0], X_OK) < 0) {
			log_err("cannot run %s: %s (install it, or point --bin-dir at it)",
				d->pieces[i].argv[0], strerror(errno));
			return FL_ERR_CONFIG;
		}
	}
	return 0;
}

/* One flanneld per subnet file: its pieces would fight over the lease. */
static int lock_networks(struct daemon *d)
{
	char path[600];
	pid_t holder;
	int fd;

	for (int i = 0; !d->o->dry_run && i < d->n_nets; i++) {
		snprintf(path, sizeof(path), "%s.flanneld.lock", d->nets[i].subnet_file);
		if (pidlock_take(path, &fd, &holder) == 0)
			continue;
		if (errno == EWOULDBLOCK) {
			log_err("lock %s: another flanneld (pid %ld) already runs for %s; stop it first",
				path, (long)holder, d->nets[i].subnet_file);
			return FL_ERR_TEMP;
		}
		log_err("lock %s: %s", path, strerror(errno));
		return FL_ERR_OS;
	}
	return 0;
}

int flanneld_run(struct flanneld_opts *o)
{
	struct daemon *d = fl_calloc(1, sizeof(*d));
	struct etcd *e = NULL;
	char err[256];
	int rc;

	if (!d)
		return FL_ERR_OS;
	d->o = o;
	d->sv.pieces = d->pieces;
	d->sv.notify_fd = -1;
	d->healthz_fd = -1;
	d->metrics_fd = -1;
	rc = setup_networks(d);
	if (!rc && !o->dry_run)
		rc = caps_need_net_admin("start");
	if (!rc)
		rc = lock_networks(d);
	if (!rc && etcd_open(&o->etcd.opts, &e, err, sizeof(err)) != ETCD_OK) {
		log_err("set up etcd client: %s", err);
		rc = FL_ERR_USAGE;
	}
	d->e = e;
	for (int i = 0; !rc && i < d->n_nets; i++) {
		rc = config_fetch_wait(e, d->nets[i].prefix, &d->nets[i].cfg);
		if (rc < 0) {
			rc = 0;
			goto out;
		}
		if (!rc)
			rc = check_backend(&d->nets[i]);
		if (!rc)
			remember_config_text(d, &d->nets[i]);
	}
	if (!rc)
		rc = check_vnis(d);
	if (!rc)
		rc = choose_iface(d);
	if (!rc && supervise_notify_open(&d->sv) < 0) {
		log_err("open notify socket: %s", strerror(errno));
		rc = FL_ERR_OS;
	}
	if (!rc && !(d->child_env = child_environment(d)))
		rc = FL_ERR_OS;
	d->sv.envp = d->child_env;
	if (!rc)
		rc = plan(d);
	if (!rc && o->dry_run) {
		for (int i = 0; i < d->sv.n; i++)
			print_piece(&d->pieces[i]);
		goto out;
	}
	if (!rc && o->healthz_port &&
	    (d->healthz_fd = healthz_open(o->healthz_ip, o->healthz_port, err, sizeof(err))) < 0) {
		log_err("serve /healthz: %s", err);
		rc = FL_ERR_CONFIG;
	}
	if (!rc && o->metrics_port &&
	    (d->metrics_fd = healthz_open(o->metrics_ip, o->metrics_port, err, sizeof(err))) < 0) {
		log_err("serve /metrics (--metrics-addr): %s", err);
		rc = FL_ERR_CONFIG;
	}
	if (!rc)
		d->state = state_new(o->state_dir, "flanneld", false);
	if (!rc)
		rc = loop(d);
out:
	if (d->healthz_fd >= 0)
		close(d->healthz_fd);
	if (d->metrics_fd >= 0)
		close(d->metrics_fd);
	state_free(d->state);
	supervise_stop_all(&d->sv, 5000);
	for (int i = 0; i < d->sv.n; i++)
		piece_clear(&d->pieces[i]);
	for (int i = 0; i < d->n_nets; i++) {
		config_clear(&d->nets[i].cfg);
		free(d->nets[i].cfg_text);
	}
	if (d->sv.notify_fd >= 0)
		close(d->sv.notify_fd);
	if (d->child_env) {
		size_t n = 0;

		while (d->child_env[n])
			n++;
		for (size_t i = n - d->n_env_own; i < n; i++)
			free(d->child_env[i]);
	}
	free(d->child_env);
	etcd_close(e);
	free(d);
	return rc;
}

int flanneld_serve(struct flanneld_opts *o)
{
	const struct etcd_opts *eo = &o->etcd.opts;
	struct piece p = { .out_fd = -1 };
	int bad, pw_fd = -1;

	bad = piece_arg(&p, "%s/flannel-server", o->bin_dir) |
	      piece_arg(&p, "--listen=%s", o->listen) |
	      piece_arg(&p, "--etcd-prefix=%s", o->etcd.prefix);
	if (eo->endpoints)
		bad |= piece_arg(&p, "--etcd-endpoints=%s", eo->endpoints);
	if (eo->cafile)
		bad |= piece_arg(&p, "--etcd-cafile=%s", eo->cafile);
	if (eo->certfile)
		bad |= piece_arg(&p, "--etcd-certfile=%s", eo->certfile);
	if (eo->keyfile)
		bad |= piece_arg(&p, "--etcd-keyfile=%s", eo->keyfile);
	if (eo->timeout_ms)
		bad |= piece_arg(&p, "--etcd-timeout=%ldms", eo->timeout_ms);
	if (eo->username)
		bad |= piece_arg(&p, "--etcd-username=%s", eo->username);
	/* The password as a sealed descriptor, never on the command line. */
	if (eo->password && (pw_fd = secret_fd(eo->password)) >= 0)
		bad |= piece_arg(&p, "--etcd-password-file=/dev/fd/%d", pw_fd);
	/* Upstream's --remote-*file are the server's own certificate in server mode. */
	if (eo->remote_certfile)
		bad |= piece_arg(&p, "--remote-certfile=%s", eo->remote_certfile);
	if (eo->remote_keyfile)
		bad |= piece_arg(&p, "--remote-keyfile=%s", eo->remote_keyfile);
	if (eo->remote_cafile)
		bad |= piece_arg(&p, "--remote-cafile=%s", eo->remote_cafile);
	if (o->verbosity)
		bad |= piece_arg(&p, "-v%d", o->verbosity);
	if (bad || (eo->password && pw_fd < 0)) {
		log_err("start flannel-server: %s", strerror(errno ? errno : ENOMEM));
		piece_clear(&p);
		return FL_ERR_OS;
	}
	if (o->dry_run) {
		print_piece(&p);
		piece_clear(&p);
		return 0;
	}
	log_notice("server mode: running %s", p.argv[0]);
	execve(p.argv[0], p.argv, o->envp);
	log_err("run %s: %s (install it, or point --bin-dir at it)", p.argv[0], strerror(errno));
	piece_clear(&p);
	return errno == ENOENT ? FL_ERR_CONFIG : FL_ERR_OS;
}
