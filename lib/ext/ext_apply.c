/* ext_apply.c - the event stream applied by running SubnetAddCommand and
 * SubnetRemoveCommand, with the set of known remote leases kept so that a
 * removal always has the values its addition had. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "ext/ext.h"
#include "status/state.h"

struct known {
	struct lease lease;
	bool applied; /* the add command succeeded (or there is none) */
	bool seen;    /* seen since the last snapshot began */
};

struct ext_applier {
	const struct ext_config *cfg;
	char *const *base_env;
	struct cmdrun_opts run;
	char backend_type[BACKEND_TYPE_MAX]; /* "" = any */
	struct known *k;
	size_t n, cap;
	struct subnet_lens lens; /* of the leases in k (subnet_check_peers) */
	bool in_snapshot;
	unsigned long failures;
	struct prefix own, own6, net, net6; /* family 0: unknown */
	struct state *st;
};

static const char *lease_name(const struct lease *l, char *buf, size_t len);

void ext_applier_set_scope(struct ext_applier *a, const struct prefix *own,
			   const struct prefix *own6, const struct prefix *net,
			   const struct prefix *net6)
{
	a->own = *own;
	a->own6 = *own6;
	a->net = *net;
	a->net6 = *net6;
}

/* Another remembered lease holds exactly q (subnet_check_peers). */
static bool known_v4(void *arg, const struct prefix *q)
{
	const struct ext_applier *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (prefix_equal(&a->k[i].lease.subnet, q))
			return true;
	return false;
}

static bool known_v6(void *arg, const struct prefix *q)
{
	const struct ext_applier *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (prefix_equal(&a->k[i].lease.subnet6, q))
			return true;
	return false;
}

/* The kernel appliers' checks (lib/model/subnet.c): a refused lease is
 * never remembered, so no remove command ever runs for it either. */
static bool subnets_ok(const struct ext_applier *a, const struct lease *l)
{
	char why[160], key[KEY_STRLEN];
	int bad = 0;

	if (!addr_is_set(&l->subnet.addr) && !addr_is_set(&l->subnet6.addr)) {
		snprintf(why, sizeof(why), "no subnet");
		bad = 1;
	}
	if (!bad && addr_is_set(&l->subnet.addr))
		bad = subnet_check_remote(&l->subnet, &a->own, &a->net, why, sizeof(why)) < 0;
	if (!bad && addr_is_set(&l->subnet6.addr))
		bad = subnet_check_remote(&l->subnet6, &a->own6, &a->net6, why, sizeof(why)) < 0;
	if (!bad && addr_is_set(&l->subnet.addr))
		bad = subnet_check_peers(&l->subnet, &a->lens, known_v4, (void *)a, why,
					 sizeof(why)) < 0;
	if (!bad && addr_is_set(&l->subnet6.addr))
		bad = subnet_check_peers(&l->subnet6, &a->lens, known_v6, (void *)a, why,
					 sizeof(why)) < 0;
	if (bad) {
		log_warn("refuse lease %s: %s", lease_name(l, key, sizeof(key)), why);
		state_refused(a->st, l->subnet.addr.family ? &l->subnet : &l->subnet6, why);
	}
	return !bad;
}

struct ext_applier *ext_applier_new(const struct ext_config *cfg, char *const *base_env,
				    const struct cmdrun_opts *run, const char *backend_type)
{
	struct ext_applier *a = fl_calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = cfg;
	a->base_env = base_env;
	a->run = *run;
	if (backend_type)
		snprintf(a->backend_type, sizeof(a->backend_type), "%s", backend_type);
	return a;
}

void ext_applier_free(struct ext_applier *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		lease_clear(&a->k[i].lease);
	free(a->k);
	free(a);
}

void ext_applier_set_state(struct ext_applier *a, struct state *st)
{
	a->st = st;
}

size_t ext_applier_known(const struct ext_applier *a)
{
	return a->n;
}

unsigned long ext_applier_failures(const struct ext_applier *a)
{
	return a->failures;
}

static struct known *find(struct ext_applier *a, const struct lease *l)
{
	for (size_t i = 0; i < a->n; i++)
		if (prefix_equal(&a->k[i].lease.subnet, &l->subnet) &&
		    prefix_equal(&a->k[i].lease.subnet6, &l->subnet6))
			return &a->k[i];
	return NULL;
}

static void forget(struct ext_applier *a, struct known *k)
{
	size_t i = (size_t)(k - a->k);

	lease_clear(&k->lease);
	a->k[i] = a->k[--a->n];
}

static struct known *remember(struct ext_applier *a, const struct lease *l)
{
	struct known *k;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct known *nk = fl_realloc(a->k, cap * sizeof(*nk));

		if (!nk)
			return NULL;
		a->k = nk;
		a->cap = cap;
	}
	k = &a->k[a->n];
	memset(k, 0, sizeof(*k));
	if (lease_copy(&k->lease, l) < 0)
		return NULL;
	a->n++;
	if (addr_is_set(&l->subnet.addr))
		subnet_lens_add(&a->lens, &l->subnet);
	if (addr_is_set(&l->subnet6.addr))
		subnet_lens_add(&a->lens, &l->subnet6);
	return k;
}

static bool same_data(const json_t *x, const json_t *y)
{
	if (!x || !y)
		return x == y;
	return json_equal(x, y);
}

static bool same_attrs(const struct lease *x, const struct lease *y)
{
	return addr_equal(&x->public_ip, &y->public_ip) &&
	       addr_equal(&x->public_ip6, &y->public_ip6) &&
	       strcmp(x->backend_type, y->backend_type) == 0 &&
	       same_data(x->backend_data, y->backend_data);
}

/* "100.64.2.0/24", "2001:db8:1:2::/64" or both joined by a comma. */
static const char *lease_name(const struct lease *l, char *buf, size_t len)
{
	char a[ADDR_STRLEN] = "", b[ADDR_STRLEN] = "";

	if (addr_is_set(&l->subnet.addr))
		prefix_format(&l->subnet, a, sizeof(a));
	if (addr_is_set(&l->subnet6.addr))
		prefix_format(&l->subnet6, b, sizeof(b));
	snprintf(buf, len, "%s%s%s", a, a[0] && b[0] ? "," : "", b);
	return buf;
}

/* 1: ran and succeeded (or nothing to run); 0: failed or refused; -1: fatal. */
static int run_for_lease(struct ext_applier *a, enum ext_cmd c, const struct lease *l)
{
	const char *cmd = a->cfg->cmd[c];
	char what[KEY_STRLEN + 64], key[KEY_STRLEN], err[160];
	struct cmdrun_result r;
	struct ext_host h;
	char **env = NULL, *in = NULL;
	size_t inlen = 0;
	int rc = -1;

	if (!cmd || !*cmd)
		return 1;
	snprintf(what, sizeof(what), "%s for %s", ext_cmd_key(c),
		 lease_name(l, key, sizeof(key)));
	in = ext_stdin_text(l->backend_data, &inlen, err, sizeof(err));
	if (!in) {
		if (strcmp(err, "out of memory") == 0)
			goto nomem;
		log_err("refuse %s: BackendData: %s", what, err);
		a->failures++;
		return 0;
	}
	ext_host_from_lease(&h, l);
	if (!(env = ext_env_build(a->base_env, &h, false)))
		goto nomem;
	log_debug("run %s", what);
	if (cmdrun_shell(cmd, env, in, inlen, &a->run, &r) < 0) {
		if (errno == ECANCELED || errno == ENOMEM)
			goto out;
		log_err("run %s: start %s: %s", what, CMDRUN_SHELL, strerror(errno));
		a->failures++;
		rc = 0;
		goto out;
	}
	ext_log_result(what, &r);
	rc = cmdrun_ok(&r) ? 1 : 0;
	if (!rc)
		a->failures++;
	if (r.cancelled) {
		errno = ECANCELED;
		rc = -1;
	}
	cmdrun_result_clear(&r);
	goto out;
nomem:
	errno = ENOMEM;
out:
	ext_env_free(env);
	free(in);
	return rc;
}

static bool type_wanted(const struct ext_applier *a, const struct lease *l)
{
	char key[KEY_STRLEN];

	if (!a->backend_type[0] || strcmp(a->backend_type, l->backend_type) == 0)
		return true;
	log_warn("skip lease %s: BackendType \"%s\" is not \"%s\"",
		 lease_name(l, key, sizeof(key)), l->backend_type, a->backend_type);
	state_refused(a->st, l->subnet.addr.family ? &l->subnet : &l->subnet6,
		      "its backend type is not this applier's");
	return false;
}

/* Drop a known lease, running the remove command with the values it was added with. */
static int drop(struct ext_applier *a, struct known *k)
{
	int rc = run_for_lease(a, EXT_SUBNET_REMOVE, &k->lease);

	forget(a, k);
	return rc < 0 ? -1 : 0;
}

static int on_added(struct ext_applier *a, const struct lease *l)
{
	struct known *k = find(a, l);
	int rc;

	if (k && same_attrs(&k->lease, l)) {
		k->seen = true;
		if (k->applied)
			return 0; /* a renewal, or the same event again */
	} else if (k) {
		/* New values for a known subnet: undo what the old ones did. */
		if (drop(a, k) < 0)
			return -1;
		k = NULL;
	}
	if (!type_wanted(a, l) || !subnets_ok(a, l))
		return 0;
	if (!k && !(k = remember(a, l))) {
		errno = ENOMEM;
		return -1;
	}
	k->seen = true;
	rc = run_for_lease(a, EXT_SUBNET_ADD, &k->lease);
	if (rc < 0)
		return -1;
	k->applied = rc == 1;
	if (!k->applied)
		state_refused(a->st, l->subnet.addr.family ? &l->subnet : &l->subnet6,
			      "SubnetAddCommand failed (see the log)");
	return 0;
}

static int on_removed(struct ext_applier *a, const struct event *ev)
{
	struct known *k = find(a, &ev->lease);
	char key[KEY_STRLEN];

	if (k)
		return drop(a, k);
	/* Refused, of another type, or never seen: nothing was added. */
	log_info("ignore removal of lease %s: it was not added here",
		 lease_name(&ev->lease, key, sizeof(key)));
	return 0;
}

/* After a snapshot: every known lease it did not mention is gone. */
static int on_sync(struct ext_applier *a)
{
	size_t i = 0;

	if (!a->in_snapshot) {
		log_debug("sync without snapshot: nothing to reconcile");
		return 0;
	}
	a->in_snapshot = false;
	while (i < a->n) {
		if (a->k[i].seen) {
			i++;
			continue;
		}
		if (drop(a, &a->k[i]) < 0)
			return -1;
	}
	return 0;
}

int ext_applier_event(struct ext_applier *a, const struct event *ev)
{
	switch (ev->type) {
	case EV_SNAPSHOT:
		a->in_snapshot = true;
		for (size_t i = 0; i < a->n; i++)
			a->k[i].seen = false;
		return 0;
	case EV_SYNC:
		return on_sync(a);
	case EV_ADDED:
		return ev->lease.self ? 0 : on_added(a, &ev->lease);
	case EV_REMOVED:
		return ev->lease.self ? 0 : on_removed(a, ev);
	default:
		log_warn("skip event of unknown type \"%s\"", ev->type_name);
		return 0;
	}
}
