/* acquire.c - list leases, reuse or allocate a subnet, create it atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "etcd/acquire.h"
#include "etcd/etcd_remote.h"

int acquire_key(const char *prefix, const char *leaf, char *buf, size_t len)
{
	size_t n = strlen(prefix);
	int r;

	/* path.Join drops trailing slashes of the prefix. */
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	r = snprintf(buf, len, "%.*s/subnets%s%s", (int)n, prefix, leaf ? "/" : "",
		     leaf ? leaf : "");
	return r < 0 || (size_t)r >= len ? -1 : 0;
}

/* Address intervals taken by existing leases, for one family. */
struct taken {
	struct ipaddr *first, *last, *maxlast;
	size_t n, cap;
};

struct scan {
	struct acquire *a;
	size_t leaf_off;          /* where the subnet key starts in a full key */
	struct taken v4, v6;
	char mine_key[KEY_STRLEN];
	char mine_full[512];
	struct lease mine;        /* the first lease with our public IP */
	bool found;
	char want_ip[ADDR_STRLEN]; /* IPv4 text to look for, or "" */
	size_t leases;
	int err;
};

static int taken_add(struct taken *t, const struct prefix *p)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct ipaddr *f = fl_realloc(t->first, cap * sizeof(*f));

		if (!f)
			return -1;
		t->first = f;
		f = fl_realloc(t->last, cap * sizeof(*f));
		if (!f)
			return -1;
		t->last = f;
		t->cap = cap;
	}
	t->first[t->n] = p->addr;
	prefix_last_addr(p, &t->last[t->n]);
	t->n++;
	return 0;
}

static void taken_free(struct taken *t)
{
	free(t->first);
	free(t->last);
	free(t->maxlast);
	memset(t, 0, sizeof(*t));
}

static int cmp_interval(const void *x, const void *y)
{
	return addr_cmp(x, y);
}

/* Sort by first address and keep the running maximum of the last ones, so
 * that "does [a, b] overlap anything" is one binary search. */
static int taken_index(struct taken *t)
{
	struct { struct ipaddr f, l; } *pairs;

	if (!t->n)
		return 0;
	pairs = fl_malloc(t->n * sizeof(*pairs));
	t->maxlast = fl_malloc(t->n * sizeof(*t->maxlast));
	if (!pairs || !t->maxlast) {
		free(pairs);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++) {
		pairs[i].f = t->first[i];
		pairs[i].l = t->last[i];
	}
	qsort(pairs, t->n, sizeof(*pairs), cmp_interval);
	for (size_t i = 0; i < t->n; i++) {
		t->first[i] = pairs[i].f;
		t->last[i] = pairs[i].l;
		t->maxlast[i] = i && addr_cmp(&t->maxlast[i - 1], &pairs[i].l) > 0 ?
					t->maxlast[i - 1] : pairs[i].l;
	}
	free(pairs);
	return 0;
}

static bool taken_overlaps(const struct taken *t, const struct prefix *p)
{
	struct ipaddr last;
	size_t lo = 0, hi = t->n;

	prefix_last_addr(p, &last);
	/* The intervals that start at or before our last address... */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr_cmp(&t->first[mid], &last) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ...overlap us when any of them ends at or after our first. */
	return lo > 0 && addr_cmp(&t->maxlast[lo - 1], &p->addr) >= 0;
}

static bool is_mine(const struct acquire *a, const struct lease *l)
{
	if (a->cfg->enable_ipv4)
		return addr_equal(&l->public_ip, &a->want->public_ip);
	return addr_is_set(&l->public_ip6) && addr_is_set(&a->want->public_ip6) &&
	       addr_equal(&l->public_ip6, &a->want->public_ip6);
}

static int scan_kv(void *arg, const struct etcd_kv *kv)
{
	struct scan *s = arg;
	const char *leaf = kv->key + s->leaf_off;
	char why[256];
	struct lease l;

	if (kv->key_len <= s->leaf_off)
		return 0;
	lease_init(&l);
	/* Its full length: "100.64.7.0-24\0x" is not 100.64.7.0/24. */
	if (subnet_key_parse_n(leaf, kv->key_len - s->leaf_off, &l.subnet, &l.subnet6) < 0)
		return 0;
	s->leases++;
	/* A subnet is taken whatever its value holds. */
	if ((addr_is_set(&l.subnet.addr) && taken_add(&s->v4, &l.subnet) < 0) ||
	    (addr_is_set(&l.subnet6.addr) && taken_add(&s->v6, &l.subnet6) < 0)) {
		s->err = ETCD_ERR_NOMEM;
		return 1;
	}
	/* Most values are other hosts': skip parsing those whose text cannot
	 * hold our (canonical, dotted) address. */
	if (s->found || (s->want_ip[0] && !memmem(kv->value, kv->value_len, s->want_ip,
						  strlen(s->want_ip))) ||
	    lease_parse_value(&l, kv->value, kv->value_len, why, sizeof(why)) < 0) {
		lease_clear(&l);
		return 0;
	}
	if (is_mine(s->a, &l)) {
		l.lease_id = kv->lease;
		l.mod_revision = kv->mod_revision;
		s->mine = l;
		s->found = true;
		snprintf(s->mine_key, sizeof(s->mine_key), "%s", leaf);
		snprintf(s->mine_full, sizeof(s->mine_full), "%s", kv->key);
		return 0;
	}
	lease_clear(&l);
	return 0;
}

static bool compatible(const struct acquire *a, const struct lease *l)
{
	const struct net_config *c = a->cfg;

	if (c->enable_ipv4 && !config_subnet_ok(c, &l->subnet))
		return false;
	if (!c->enable_ipv4 && addr_is_set(&l->subnet.addr))
		return false;
	if (c->enable_ipv6)
		return config_subnet6_ok(c, &l->subnet6);
	return !addr_is_set(&l->subnet6.addr);
}

/* Pick uniformly among the first ACQUIRE_CANDIDATES free subnets. */
static int pick_free(const struct taken *t, const struct ipaddr *min, const struct ipaddr *max,
		     unsigned len, struct prefix *out)
{
	struct prefix cand[ACQUIRE_CANDIDATES];
	struct prefix p = { .addr = *min, .len = len };
	size_t n = 0;

	while (n < ACQUIRE_CANDIDATES && addr_cmp(&p.addr, max) <= 0) {
		if (!taken_overlaps(t, &p))
			cand[n++] = p;
		if (!prefix_next(&p))
			break;
	}
	if (!n)
		return -1;
	*out = cand[arc4random_uniform((uint32_t)n)];
	return 0;
}

static int fill_value(struct acquire *a, struct lease *got, char **val)
{
	got->public_ip = a->want->public_ip;
	got->public_ip6 = a->want->public_ip6;
	snprintf(got->backend_type, sizeof(got->backend_type), "%s", a->want->backend_type);
	json_decref(got->backend_data);
	json_decref(got->backend_v6_data);
	got->backend_data = a->want->backend_data ? json_incref(a->want->backend_data) : NULL;
	got->backend_v6_data =
		a->want->backend_v6_data ? json_incref(a->want->backend_v6_data) : NULL;
	*val = lease_format_value(got);
	return *val ? ETCD_OK : ETCD_ERR_NOMEM;
}

static int create(struct acquire *a, struct lease *got, const char *full, int64_t *rev)
{
	char *val;
	int64_t id;
	int rc = fill_value(a, got, &val);

	if (rc != ETCD_OK)
		return rc;
	rc = etcd_lease_grant(a->e, a->ttl, &id);
	if (rc == ETCD_OK) {
		rc = etcd_create(a->e, full, val, id, rev);
		if (rc != ETCD_OK)
			etcd_lease_revoke(a->e, id);
	}
	free(val);
	if (rc == ETCD_OK) {
		got->lease_id = id;
		got->expiration = time(NULL) + a->ttl;
	}
	return rc;
}

/* Our lease is already there: keep its etcd lease alive and refresh the value. */
static int reuse(struct acquire *a, struct scan *s, struct lease *got, int64_t *rev)
{
	char *val, *old = lease_format_value(&s->mine);
	int64_t ttl = 0, orig = s->mine.lease_id, id = orig;
	int rc;

	*got = s->mine;
	lease_init(&s->mine);
	rc = fill_value(a, got, &val);
	if (rc != ETCD_OK || !old) {
		free(old);
		return rc != ETCD_OK ? rc : ETCD_ERR_NOMEM;
	}
	if (id) {
		rc = etcd_lease_keepalive(a->e, id, &ttl);
		if (rc == ETCD_NOTFOUND) {
			ttl = a->ttl;
			rc = etcd_lease_grant(a->e, a->ttl, &id);
		}
	}
	/* A reservation (no etcd lease) stays a reservation. */
	if (rc == ETCD_OK && (strcmp(old, val) != 0 || id != orig))
		rc = etcd_put(a->e, s->mine_full, val, id, rev);
	free(old);
	free(val);
	if (rc != ETCD_OK)
		return rc;
	got->lease_id = id;
	got->expiration = id ? time(NULL) + ttl : 0;
	return ETCD_OK;
}

static bool hint_usable(struct acquire *a, const struct scan *s)
{
	struct lease h;

	if (!addr_is_set(&a->hint.addr) && !addr_is_set(&a->hint6.addr))
		return false;
	lease_init(&h);
	h.subnet = a->hint;
	h.subnet6 = a->hint6;
	if (!compatible(a, &h))
		return false;
	return !(addr_is_set(&h.subnet.addr) && taken_overlaps(&s->v4, &h.subnet)) &&
	       !(addr_is_set(&h.subnet6.addr) && taken_overlaps(&s->v6, &h.subnet6));
}

static int choose(struct acquire *a, struct scan *s, struct lease *got)
{
	const struct net_config *c = a->cfg;

	if (hint_usable(a, s)) {
		got->subnet = a->hint;
		got->subnet6 = a->hint6;
		snprintf(a->note, sizeof(a->note), "previous subnet");
		return ETCD_OK;
	}
	if (c->enable_ipv4 &&
	    pick_free(&s->v4, &c->subnet_min, &c->subnet_max, c->subnet_len, &got->subnet) < 0)
		goto full;
	if (c->enable_ipv6 &&
	    pick_free(&s->v6, &c->subnet6_min, &c->subnet6_max, c->subnet6_len, &got->subnet6) < 0)
		goto full;
	snprintf(a->note, sizeof(a->note), "new");
	return ETCD_OK;
full: {
	char n[ADDR_STRLEN], lo[ADDR_STRLEN], hi[ADDR_STRLEN];
	bool v4 = c->enable_ipv4 && !addr_is_set(&got->subnet.addr);

	snprintf(a->err, sizeof(a->err),
		 "network %s is full: no free /%u between %s and %s (%zu leases)",
		 prefix_format(v4 ? &c->network : &c->network6, n, sizeof(n)),
		 v4 ? c->subnet_len : c->subnet6_len,
		 addr_format(v4 ? &c->subnet_min : &c->subnet6_min, lo, sizeof(lo)),
		 addr_format(v4 ? &c->subnet_max : &c->subnet6_max, hi, sizeof(hi)), s->leases);
	return ACQUIRE_FULL;
}
}

/* A restart: the subnet in subnet.env is very likely still ours, and one
 * read confirms it without listing every lease. */
static bool hint_is_mine(struct acquire *a, struct scan *s)
{
	char leaf[KEY_STRLEN], full[512];
	struct etcd_kv kv;

	if (!addr_is_set(&a->hint.addr) && !addr_is_set(&a->hint6.addr))
		return false;
	if (subnet_key_format(&a->hint, &a->hint6, leaf, sizeof(leaf)) < 0 ||
	    acquire_key(a->prefix, leaf, full, sizeof(full)) < 0 ||
	    etcd_get(a->e, full, &kv, NULL) != ETCD_OK)
		return false;
	scan_kv(s, &kv);
	etcd_kv_clear(&kv);
	if (s->found && compatible(a, &s->mine))
		return true;
	/* Not ours after all: the full scan below decides. */
	lease_clear(&s->mine);
	lease_init(&s->mine);
	s->found = false;
	s->leases = 0;
	taken_free(&s->v4);
	taken_free(&s->v6);
	return false;
}

static int one_try(struct acquire *a, struct lease *got, char *key, size_t keylen, int64_t *rev)
{
	struct scan s = { .a = a };
	char base[512], full[512];
	int rc;

	lease_init(&s.mine);
	if (a->cfg->enable_ipv4)
		addr_format(&a->want->public_ip, s.want_ip, sizeof(s.want_ip));
	if (acquire_key(a->prefix, "", base, sizeof(base)) < 0)
		return ETCD_ERR_USAGE;
	s.leaf_off = strlen(base);
	if (hint_is_mine(a, &s)) {
		snprintf(key, keylen, "%s", s.mine_key);
		snprintf(a->note, sizeof(a->note), "reused");
		rc = reuse(a, &s, got, rev);
		goto out;
	}
	{
		char *end = etcd_prefix_end(base);

		if (!end)
			return ETCD_ERR_NOMEM;
		rc = etcd_range_all(a->e, base, end, 500, scan_kv, &s, NULL);
		free(end);
	}
	if (rc == ETCD_OK && s.err)
		rc = s.err;
	if (rc == ETCD_OK && (taken_index(&s.v4) < 0 || taken_index(&s.v6) < 0))
		rc = ETCD_ERR_NOMEM;
	if (rc != ETCD_OK)
		goto out;
	if (s.found && compatible(a, &s.mine)) {
		snprintf(key, keylen, "%s", s.mine_key);
		snprintf(a->note, sizeof(a->note), "reused");
		rc = reuse(a, &s, got, rev);
		goto out;
	}
	if (s.found) {
		log_warn("deleting lease %s of this host: it does not fit the network config",
			 s.mine_key);
		rc = etcd_delete(a->e, s.mine_full, NULL);
		if (rc != ETCD_OK)
			goto out;
	}
	rc = choose(a, &s, got);
	if (rc != ETCD_OK)
		goto out;
	subnet_key_format(&got->subnet, &got->subnet6, key, keylen);
	if (acquire_key(a->prefix, key, full, sizeof(full)) < 0) {
		rc = ETCD_ERR_USAGE;
		goto out;
	}
	rc = create(a, got, full, rev);
out:
	lease_clear(&s.mine);
	taken_free(&s.v4);
	taken_free(&s.v6);
	return rc;
}

int acquire_lease(struct acquire *a, struct lease *got, char *key, size_t keylen, int64_t *rev)
{
	int rc = ETCD_EXISTS;
	int tries = a->tries > 0 ? a->tries : 10;

	if (etcd_is_remote(a->e))
		return remote_acquire(a, got, key, keylen, rev);
	a->err[0] = '\0';
	for (int i = 0; i < tries && rc == ETCD_EXISTS; i++) {
		lease_clear(got);
		rc = one_try(a, got, key, keylen, rev);
		if (rc == ETCD_EXISTS) {
			log_info("subnet %s was taken by another host meanwhile; trying again", key);
			/* The hint lost the race: do not chase it again. */
			memset(&a->hint, 0, sizeof(a->hint));
			memset(&a->hint6, 0, sizeof(a->hint6));
		}
	}
	if (rc == ETCD_EXISTS)
		snprintf(a->err, sizeof(a->err), "other hosts took every subnet tried, %d times",
			 tries);
	else if (rc != ETCD_OK && rc != ACQUIRE_FULL && !a->err[0])
		snprintf(a->err, sizeof(a->err), "%s", etcd_error(a->e));
	if (rc != ETCD_OK)
		lease_clear(got);
	return rc;
}

int acquire_renew(struct acquire *a, struct lease *got)
{
	int64_t ttl = 0;
	int rc;

	if (!got->lease_id)
		return ETCD_OK; /* a reservation never expires */
	if (etcd_is_remote(a->e))
		return remote_renew(a, got);
	rc = etcd_lease_keepalive(a->e, got->lease_id, &ttl);
	if (rc == ETCD_OK)
		got->expiration = time(NULL) + ttl;
	else if (rc != ETCD_NOTFOUND)
		snprintf(a->err, sizeof(a->err), "%s", etcd_error(a->e));
	return rc;
}
