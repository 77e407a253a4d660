/* pieces.c - flanneld's pieces as command lines: each tool's arguments for
 * its network, the environment they all get (no credentials in it), and
 * flannel-server's in server mode. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/strv.h"
#include "flanneld/daemon.h"
#include "status/state.h"

/* An etcd credential in a sealed memfd each piece gets as its fd 3 or 4
 * (never in an environment or a command line); it stays open for the
 * restarts to come.  Above 4, so that the pieces' dup2 to 3 and 4 clobber
 * neither. */
static int secret_fd(const char *name, const char *secret)
{
	size_t len = strlen(secret);
	int fd = memfd_create(name, MFD_ALLOW_SEALING | MFD_CLOEXEC), hi;

	if (fd < 0)
		return -1;
	if (write(fd, secret, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0 ||
	    (hi = fcntl(fd, F_DUPFD_CLOEXEC, 5)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return hi;
}

/* The children get our environment without FLANNELD_* (we pass flags), our
 * notify socket, and the etcd credentials out of sight of ps(1) and of
 * /proc/PID/environ: the password and the user name as descriptors (/dev/fd/N). */
char **flanneld_child_environment(struct daemon *d)
{
	const struct etcd_opts *eo = &d->o->etcd.opts;
	size_t n = 0, k = 0, kept;
	int pw_fd = -1, user_fd = -1;
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
	if (eo->username && (user_fd = secret_fd("flannel-etcd-username", eo->username)) < 0) {
		log_err("pass the etcd user name to the tools: %s", strerror(errno));
		goto fail;
	}
	if (eo->password && (pw_fd = secret_fd("flannel-etcd-password", eo->password)) < 0) {
		log_err("pass the etcd password to the tools: %s", strerror(errno));
		goto fail;
	}
	/* The pieces get them as their fds 3 and 4 (supervise.c), and nothing else. */
	if (pw_fd >= 0 && asprintf(&env[k++], "FLANNELD_ETCD_PASSWORD_FILE=/dev/fd/3") < 0)
		goto fail;
	if (user_fd >= 0 && asprintf(&env[k++], "FLANNELD_ETCD_USERNAME_FILE=/dev/fd/4") < 0)
		goto fail;
	d->sv.secret_fd = pw_fd;
	d->sv.user_fd = user_fd;
	env[k] = NULL;
	d->n_env_own = k - kept;
	return env;
fail:
	if (pw_fd >= 0)
		close(pw_fd);
	if (user_fd >= 0)
		close(user_fd);
	while (k > kept)
		free(env[--k]);
	free(env);
	return NULL;
}

/* One command line, quoted for sh, on stdout (--dry-run). */
void flanneld_print_piece(const struct piece *p)
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

struct piece *flanneld_new_piece(struct daemon *d, const char *name, int group, const char *tool)
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

int flanneld_common_net_args(struct daemon *d, struct piece *p, const struct network *n)
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
int flanneld_backend_args(struct daemon *d, struct piece *p, const struct network *n,
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

int flanneld_primary_family(const struct daemon *d)
{
	return d->have4 ? AF_INET : AF_INET6;
}

int flanneld_plan_lease(struct daemon *d, struct network *n, int base)
{
	struct piece *p = flanneld_new_piece(d, "lease", base + G_LEASE, "flannel-lease");

	if (!p || etcd_args(d, p, n) < 0 || flanneld_common_net_args(d, p, n) < 0 ||
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

int flanneld_plan_data(struct daemon *d, struct network *n, int base)
{
	struct piece *w, *a;

	if (!n->be->tool || !n->be->step_cmd[BACKEND_APPLY])
		return 0;
	w = flanneld_new_piece(d, "watch", base + G_DATA, "flannel-watch");
	if (!w || etcd_args(d, w, n) < 0 || piece_arg(w, "--subnet-file=%s", n->subnet_file) < 0 ||
	    state_arg(d, w, n) < 0 || verbose_arg(d, w) < 0)
		return -1;
	a = flanneld_new_piece(d, n->be->name, base + G_DATA, n->be->tool);
	if (!a || flanneld_backend_args(d, a, n, BACKEND_APPLY, flanneld_primary_family(d)) < 0 ||
	    (n->be->etcd && etcd_args(d, a, n) < 0) ||
	    piece_arg(a, "--subnet-file=%s", n->subnet_file) < 0 || state_arg(d, a, n) < 0)
		return -1;
	if (n->be->kernel &&
	    (network_arg(a, n) < 0 || (d->o->blackhole && piece_arg(a, "--blackhole-route") < 0) ||
	     (d->o->route_shape && piece_arg(a, "--route-shape=%s", d->o->route_shape) < 0)))
		return -1;
	return 0;
}

int flanneld_plan_masq(struct daemon *d, struct network *n, int base)
{
	struct piece *p;
	int bad;

	if (!d->o->ip_masq && !d->o->forward_rules)
		return 0;
	p = flanneld_new_piece(d, "masq", base + G_MASQ, "flannel-masq");
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

int flanneld_serve(struct flanneld_opts *o)
{
	const struct etcd_opts *eo = &o->etcd.opts;
	struct piece p = { .out_fd = -1 };
	int bad, pw_fd = -1, user_fd = -1;

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
	/* The credentials as sealed descriptors (kept across the exec), never on
	 * the command line. */
	if (eo->username && (user_fd = secret_fd("flannel-etcd-username", eo->username)) >= 0)
		bad |= piece_arg(&p, "--etcd-username-file=/dev/fd/%d", user_fd) |
		       fcntl(user_fd, F_SETFD, 0);
	if (eo->password && (pw_fd = secret_fd("flannel-etcd-password", eo->password)) >= 0)
		bad |= piece_arg(&p, "--etcd-password-file=/dev/fd/%d", pw_fd) |
		       fcntl(pw_fd, F_SETFD, 0);
	/* Upstream's --remote-*file are the server's own certificate in server mode. */
	if (eo->remote_certfile)
		bad |= piece_arg(&p, "--remote-certfile=%s", eo->remote_certfile);
	if (eo->remote_keyfile)
		bad |= piece_arg(&p, "--remote-keyfile=%s", eo->remote_keyfile);
	if (eo->remote_cafile)
		bad |= piece_arg(&p, "--remote-cafile=%s", eo->remote_cafile);
	if (o->verbosity)
		bad |= piece_arg(&p, "-v%d", o->verbosity);
	if (bad || (eo->password && pw_fd < 0) || (eo->username && user_fd < 0)) {
		log_err("start flannel-server: %s", strerror(errno ? errno : ENOMEM));
		piece_clear(&p);
		return FL_ERR_OS;
	}
	if (o->dry_run) {
		flanneld_print_piece(&p);
		piece_clear(&p);
		return 0;
	}
	log_notice("server mode: running %s", p.argv[0]);
	execve(p.argv[0], p.argv, o->envp);
	log_err("run %s: %s (install it, or point --bin-dir at it)", p.argv[0], strerror(errno));
	piece_clear(&p);
	return errno == ENOENT ? FL_ERR_CONFIG : FL_ERR_OS;
}
