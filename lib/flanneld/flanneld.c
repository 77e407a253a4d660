/* flanneld.c - read each network's config, start its pieces in upstream's
 * order (backend init, lease, subnet.env, local setup, watch | applier),
 * restart what dies, stop cleanly leaving lease and routes in place.  The
 * command lines are in pieces.c, each network's bring-up in networks.c. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/caps.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sdnotify.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/config_fetch.h"
#include "etcd/etcd.h"
#include "flanneld/daemon.h"
#include "flanneld/healthz.h"
#include "status/report.h"
#include "status/state.h"

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
			rc = flanneld_post_startup(d, n);
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
	return flanneld_plan(d);
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
	rc = flanneld_setup_networks(d);
	if (!rc && !o->dry_run)
		rc = caps_need_net_admin("start");
	if (!rc)
		rc = flanneld_lock_networks(d);
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
			rc = flanneld_check_backend(&d->nets[i]);
		if (!rc)
			remember_config_text(d, &d->nets[i]);
	}
	if (!rc)
		rc = flanneld_check_vnis(d);
	if (!rc)
		rc = flanneld_choose_iface(d);
	if (!rc && supervise_notify_open(&d->sv) < 0) {
		log_err("open notify socket: %s", strerror(errno));
		rc = FL_ERR_OS;
	}
	if (!rc && !(d->child_env = flanneld_child_environment(d)))
		rc = FL_ERR_OS;
	d->sv.envp = d->child_env;
	if (!rc)
		rc = flanneld_plan(d);
	if (!rc && o->dry_run) {
		for (int i = 0; i < d->sv.n; i++)
			flanneld_print_piece(&d->pieces[i]);
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
