/* state.c - a tool's state document (flannel-state(5)): kept in memory,
 * written whole with a rename when it changed, at most once a period. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/htab.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/path.h"
#include "base/timefmt.h"
#include "status/state.h"

/* One remote lease: 60 bytes, as there may be tens of thousands. */
struct speer {
	struct prefix key;          /* the IPv4 subnet, or the IPv6 one when alone */
	struct ipaddr pub;          /* its public IP of the key's family */
	uint32_t seen, expires;     /* seconds since the epoch, 0: none */
	uint32_t gen;
	uint8_t backend;            /* index into state.backends */
	bool installed;             /* else its reason is in refused */
	bool dual;                  /* its IPv6 half is in state.dual */
};

/* The IPv6 half of a dual-stack lease. */
struct dual {
	struct prefix key;          /* the peer's (IPv4) */
	struct prefix subnet6;
	struct ipaddr pub6;
};

#define STATE_BACKENDS 16

struct why {
	struct prefix key;          /* a refused peer's */
	char text[200];
};

struct state {
	char path[PATH_MAX];
	char tool[32];
	json_t *own;                /* the tool's fields */
	bool track_peers;
	struct htab peers;          /* struct speer */
	struct htab refused;        /* struct why: few, so peers stay small */
	struct htab dual;           /* struct dual */
	/* BackendTypes seen; the last slot stands for any beyond. */
	char backends[STATE_BACKENDS][BACKEND_TYPE_MAX];
	int n_backends;
	struct prefix self, self6;  /* our own lease, from "self":true */
	struct ipaddr self_pub;
	uint32_t gen;
	bool in_snapshot, synced;
	int64_t sync_rev;
	time_t sync_time, started;
	unsigned long counters[STATE_NCOUNTERS];
	long long start_ticks;
	bool dirty, failing;
	int64_t written_ms;         /* monotonic; 0: never written */
};

static const char *const counter_names[STATE_NCOUNTERS] = {
	[STATE_EVENTS] = "events", [STATE_ERRORS] = "errors", [STATE_SKIPPED] = "skipped",
	[STATE_HEALS] = "heals", [STATE_RESTARTS] = "restarts",
};

/* The fields state.c writes itself: a tool's state_set cannot shadow them. */
static const char *const common_fields[] = {
	"type", "version", "tool", "pid", "pid_start", "started", "updated", "synced", "sync",
	"counters", "peers", "peer_count", "self", NULL,
};

long long state_proc_start(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name in parentheses (which may hold anything). */
	p = strrchr(buf, ')');
	/* Field 3, the state: a zombie (its parent has not reaped it yet)
	 * has ended all the same. */
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
		return -1;
	/* Fields 3..21, then 22: starttime. */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return -1;
	return (long long)ticks;
}

struct state *state_new(const char *dir, const char *tool, bool peers)
{
	struct state *st;

	if (!dir)
		dir = STATE_DIR_DEFAULT;
	if (!*dir || strcmp(dir, "-") == 0)
		return NULL;
	st = fl_calloc(1, sizeof(*st));
	if (!st || !(st->own = json_object())) {
		log_err("keep the state of %s: out of memory (no state file)", tool);
		free(st);
		return NULL;
	}
	if (snprintf(st->path, sizeof(st->path), "%s/%s.json", dir, tool) >= (int)sizeof(st->path)) {
		log_err("state file %s/%s.json: %s (no state file)", dir, tool,
			strerror(ENAMETOOLONG));
		json_decref(st->own);
		free(st);
		return NULL;
	}
	snprintf(st->tool, sizeof(st->tool), "%s", tool);
	st->track_peers = peers;
	htab_init(&st->peers, sizeof(struct speer), sizeof(struct prefix));
	htab_init(&st->refused, sizeof(struct why), sizeof(struct prefix));
	htab_init(&st->dual, sizeof(struct dual), sizeof(struct prefix));
	st->started = time(NULL);
	st->start_ticks = state_proc_start((long)getpid());
	st->dirty = true;
	return st;
}

void state_free(struct state *st)
{
	if (!st)
		return;
	if (st->dirty)
		state_flush(st);
	htab_free(&st->peers);
	htab_free(&st->refused);
	htab_free(&st->dual);
	json_decref(st->own);
	free(st);
}

const char *state_path(const struct state *st)
{
	return st ? st->path : NULL;
}

void state_set(struct state *st, const char *name, json_t *v)
{
	if (!st) {
		json_decref(v);
		return;
	}
	for (int i = 0; common_fields[i]; i++)
		if (strcmp(name, common_fields[i]) == 0) {
			json_decref(v);
			return;
		}
	if (!v) {
		if (json_object_del(st->own, name) == 0)
			st->dirty = true;
		return;
	}
	if (json_equal(json_object_get(st->own, name), v)) {
		json_decref(v);
		return;
	}
	json_object_set_new(st->own, name, v);
	st->dirty = true;
}

/* Text from etcd, the kernel or a lease, as printable ASCII JSON accepts. */
static json_t *text(const char *s)
{
	char esc[LOG_ESC_MAX];

	return json_string(log_escape(s, strlen(s), esc, sizeof(esc)));
}

void state_set_str(struct state *st, const char *name, const char *s)
{
	if (st)
		state_set(st, name, s ? text(s) : json_null());
}

static json_t *time_or_null(time_t t)
{
	char b[40];

	return t ? json_string(time_format_utc(t, b, sizeof(b))) : json_null();
}

void state_etcd(struct state *st, const char *endpoint, time_t contact, const char *error)
{
	json_t *o;

	if (!st)
		return;
	o = json_object();
	if (!o)
		return;
	json_object_set_new(o, "endpoint", endpoint ? text(endpoint) : json_null());
	json_object_set_new(o, "last_contact", time_or_null(contact));
	json_object_set_new(o, "error", error && *error ? text(error) : json_null());
	state_set(st, "etcd", o);
}

void state_count(struct state *st, enum state_counter c, unsigned long n)
{
	if (st && n) {
		st->counters[c] += n;
		st->dirty = true;
	}
}

void state_count_set(struct state *st, enum state_counter c, unsigned long v)
{
	if (st && st->counters[c] != v) {
		st->counters[c] = v;
		st->dirty = true;
	}
}

void state_synced(struct state *st, int64_t rev)
{
	if (!st)
		return;
	st->synced = true;
	st->sync_rev = rev;
	st->sync_time = time(NULL);
	st->dirty = true;
}

void state_unsynced(struct state *st)
{
	if (st && st->synced) {
		st->synced = false;
		st->dirty = true;
	}
}

static void key_of(struct prefix *key, const struct prefix *p)
{
	memset(key, 0, sizeof(*key));
	key->addr.family = p->addr.family;
	memcpy(key->addr.b, p->addr.b, p->addr.family == AF_INET6 ? 16 : 4);
	key->len = p->len;
}

/* The peer whose lease holds subnet, in either family. */
static struct speer *find(struct state *st, const struct prefix *subnet)
{
	const struct dual *d;
	struct prefix key;
	struct speer *p;
	size_t it = 0;

	if (!subnet->addr.family)
		return NULL;
	key_of(&key, subnet);
	p = htab_get(&st->peers, &key);
	while (!p && (d = htab_next(&st->dual, &it)) != NULL)
		if (prefix_equal(&d->subnet6, subnet))
			p = htab_get(&st->peers, &d->key);
	return p;
}

static uint8_t backend_of(struct state *st, const char *type)
{
	int i;

	for (i = 0; i < st->n_backends; i++)
		if (strcmp(st->backends[i], type) == 0)
			return (uint8_t)i;
	if (i == STATE_BACKENDS - 1) {
		snprintf(st->backends[i], sizeof(st->backends[i]), "(another)");
		st->n_backends = STATE_BACKENDS;
		return (uint8_t)i;
	}
	if (i == STATE_BACKENDS)
		return STATE_BACKENDS - 1;
	snprintf(st->backends[i], sizeof(st->backends[i]), "%s", type);
	st->n_backends++;
	return (uint8_t)i;
}

static void forget(struct state *st, const struct prefix *key)
{
	htab_del(&st->refused, key);
	htab_del(&st->dual, key);
	htab_del(&st->peers, key);
}

static void on_added(struct state *st, const struct lease *l)
{
	const struct prefix *s = l->subnet.addr.family ? &l->subnet : &l->subnet6;
	struct prefix key;
	struct speer *p;
	bool created;

	if (l->self) {
		st->self = l->subnet;
		st->self6 = l->subnet6;
		st->self_pub = l->public_ip;
		return;
	}
	if (!s->addr.family)
		return;
	key_of(&key, s);
	p = htab_put(&st->peers, &key, &created);
	if (!p)
		return; /* out of memory: the document lacks this peer */
	p->pub = l->subnet.addr.family ? l->public_ip : l->public_ip6;
	p->backend = backend_of(st, l->backend_type);
	p->installed = true;
	htab_del(&st->refused, &key);
	p->seen = (uint32_t)time(NULL);
	p->expires = l->expiration > 0 && l->expiration < UINT32_MAX ? (uint32_t)l->expiration : 0;
	p->gen = st->gen;
	p->dual = l->subnet.addr.family && l->subnet6.addr.family;
	if (p->dual) {
		struct dual *d = htab_put(&st->dual, &key, &created);

		if (d) {
			d->subnet6 = l->subnet6;
			d->pub6 = l->public_ip6;
		}
		p->dual = d != NULL;
	} else {
		htab_del(&st->dual, &key);
	}
}

static bool stale(const void *rec, void *arg)
{
	return ((const struct speer *)rec)->gen != *(const uint32_t *)arg;
}

/* A refusal or an IPv6 half whose peer is gone (both start with the key). */
static bool orphan(const void *rec, void *arg)
{
	return !htab_get(&((struct state *)arg)->peers, rec);
}

void state_event(struct state *st, const struct event *ev)
{
	struct speer *p;

	if (!st)
		return;
	st->counters[STATE_EVENTS]++;
	st->dirty = true;
	switch (ev->type) {
	case EV_SNAPSHOT:
		st->gen++;
		st->in_snapshot = true;
		st->synced = false;
		break;
	case EV_SYNC:
		if (st->in_snapshot && st->track_peers && htab_del_if(&st->peers, stale, &st->gen)) {
			htab_del_if(&st->refused, orphan, st);
			htab_del_if(&st->dual, orphan, st);
		}
		st->in_snapshot = false;
		state_synced(st, ev->revision);
		break;
	case EV_ADDED:
		if (st->track_peers || ev->lease.self)
			on_added(st, &ev->lease);
		break;
	case EV_REMOVED:
		if (ev->lease.self || !st->track_peers)
			break;
		p = find(st, ev->lease.subnet.addr.family ? &ev->lease.subnet : &ev->lease.subnet6);
		if (p) {
			struct prefix key = p->key;

			forget(st, &key);
		}
		break;
	default:
		break;
	}
}

void state_refused(struct state *st, const struct prefix *subnet, const char *why)
{
	char esc[LOG_ESC_MAX];
	struct speer *p;
	struct why *w;
	bool created;

	if (!st || !(p = find(st, subnet)))
		return;
	if (p->installed)
		st->counters[STATE_SKIPPED]++;
	p->installed = false;
	w = htab_put(&st->refused, &p->key, &created);
	if (w)
		snprintf(w->text, sizeof(w->text), "%s", log_escape(why, strlen(why), esc, sizeof(esc)));
	st->dirty = true;
}

void state_installed(struct state *st, const struct prefix *subnet)
{
	struct speer *p;

	if (!st || !(p = find(st, subnet)) || p->installed)
		return;
	p->installed = true;
	htab_del(&st->refused, &p->key);
	st->dirty = true;
}

static json_t *addr_json(const struct ipaddr *a)
{
	char b[ADDR_STRLEN];

	return addr_is_set(a) ? json_string(addr_format(a, b, sizeof(b))) : json_null();
}

static json_t *prefix_json(const struct prefix *p)
{
	char b[ADDR_STRLEN];

	return p->addr.family ? json_string(prefix_format(p, b, sizeof(b))) : json_null();
}

/* s as a JSON string: quote, backslash and control bytes escaped. */
static void json_text(struct buf *b, const char *s)
{
	buf_str(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_add(b, s, 1);
	}
	buf_str(b, "\"");
}

static void addr_text(struct buf *b, const char *name, const struct ipaddr *a)
{
	char t[ADDR_STRLEN];

	buf_printf(b, ",\"%s\":", name);
	if (a && addr_is_set(a))
		buf_printf(b, "\"%s\"", addr_format(a, t, sizeof(t)));
	else
		buf_str(b, "null");
}

static void prefix_text(struct buf *b, const char *name, const struct prefix *p)
{
	char t[ADDR_STRLEN];

	buf_printf(b, "\"%s\":", name);
	if (p && p->addr.family)
		buf_printf(b, "\"%s\"", prefix_format(p, t, sizeof(t)));
	else
		buf_str(b, "null");
}

static void time_text(struct buf *b, const char *name, time_t t)
{
	char s[40];

	buf_printf(b, ",\"%s\":", name);
	if (t)
		buf_printf(b, "\"%s\"", time_format_utc(t, s, sizeof(s)));
	else
		buf_str(b, "null");
}

/* One peer, written straight into the document: thousands of them must
 * cost no tree of JSON objects. */
static void peer_text(struct buf *b, const struct state *st, const struct speer *p)
{
	const struct why *w = p->installed ? NULL : htab_get(&st->refused, &p->key);
	const struct dual *d = p->dual ? htab_get(&st->dual, &p->key) : NULL;
	const char *be = st->backends[p->backend];
	bool v6 = p->key.addr.family == AF_INET6;
	char esc[LOG_ESC_MAX];

	buf_str(b, "{");
	prefix_text(b, "subnet", v6 ? NULL : &p->key);
	buf_str(b, ",");
	prefix_text(b, "ipv6_subnet", v6 ? &p->key : d ? &d->subnet6 : NULL);
	addr_text(b, "public_ip", v6 ? NULL : &p->pub);
	addr_text(b, "public_ipv6", v6 ? &p->pub : d ? &d->pub6 : NULL);
	buf_str(b, ",\"backend\":");
	json_text(b, log_escape(be, strlen(be), esc, sizeof(esc)));
	buf_printf(b, ",\"installed\":%s,\"reason\":", p->installed ? "true" : "false");
	if (p->installed)
		buf_str(b, "null");
	else
		json_text(b, w ? w->text : "not known (out of memory)");
	time_text(b, "last_seen", (time_t)p->seen);
	time_text(b, "expires", (time_t)p->expires);
	buf_str(b, "}");
}

static json_t *sync_json(const struct state *st)
{
	char b[40];

	if (!st->sync_time)
		return json_null();
	return json_pack("{s:I, s:s}", "revision", (json_int_t)st->sync_rev, "time",
			 time_format_utc(st->sync_time, b, sizeof(b)));
}

static json_t *self_json(const struct state *st)
{
	json_t *o = json_object();

	if (o && (json_object_set_new(o, "subnet", prefix_json(&st->self)) < 0 ||
		  json_object_set_new(o, "ipv6_subnet", prefix_json(&st->self6)) < 0 ||
		  json_object_set_new(o, "public_ip", addr_json(&st->self_pub)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Everything but the peers. */
static json_t *head_json(const struct state *st)
{
	json_t *o = json_object(), *c = json_object(), *v;
	const char *k;
	int bad = !o || !c;

	for (int i = 0; !bad && i < STATE_NCOUNTERS; i++)
		bad |= json_object_set_new(c, counter_names[i],
					   json_integer((json_int_t)st->counters[i]));
	if (bad) {
		json_decref(o);
		json_decref(c);
		return NULL;
	}
	bad |= json_object_set_new(o, "type", json_string("state"));
	bad |= json_object_set_new(o, "version", json_integer(STATE_VERSION));
	bad |= json_object_set_new(o, "tool", json_string(st->tool));
	bad |= json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	bad |= json_object_set_new(o, "pid_start", json_integer((json_int_t)st->start_ticks));
	bad |= json_object_set_new(o, "started", time_or_null(st->started));
	bad |= json_object_set_new(o, "updated", time_or_null(time(NULL)));
	bad |= json_object_set_new(o, "synced", json_boolean(st->synced));
	bad |= json_object_set_new(o, "sync", sync_json(st));
	bad |= json_object_set_new(o, "counters", c);
	if (st->track_peers) {
		bad |= json_object_set_new(o, "self", self_json(st));
		bad |= json_object_set_new(o, "peer_count", json_integer((json_int_t)st->peers.count));
	}
	json_object_foreach(st->own, k, v)
		bad |= json_object_set(o, k, v);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Where the text goes: all into b (fd -1), or out to fd in pieces. */
struct doc_out {
	struct buf b;
	int fd;
};

/* Write out what b holds once it is large (or at the end): 0 or -1. */
static int drain(struct doc_out *o, bool end)
{
	if (o->b.failed) {
		errno = ENOMEM;
		return -1;
	}
	if (o->fd < 0 || (!end && o->b.len < 65536))
		return 0;
	if (path_write_all(o->fd, o->b.data, o->b.len) < 0)
		return -1;
	buf_reset(&o->b);
	return 0;
}

/* The document's text, newline-terminated: 0, or -1 with errno. */
static int doc_text(const struct state *st, struct doc_out *out)
{
	struct buf *b = &out->b;
	json_t *head = head_json(st);
	char *h = head ? json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	const struct speer *p;
	size_t it = 0, n = 0;

	json_decref(head);
	if (!h) {
		errno = ENOMEM;
		return -1;
	}
	buf_add(b, h, strlen(h) - 1); /* without its closing brace */
	free(h);
	if (st->track_peers) {
		buf_str(b, ",\"peers\":[");
		while ((p = htab_next(&st->peers, &it)) != NULL && n < STATE_PEERS_MAX) {
			if (n++)
				buf_str(b, ",");
			peer_text(b, st, p);
			if (drain(out, false) < 0)
				return -1;
		}
		buf_str(b, "]");
	}
	buf_str(b, "}\n");
	return drain(out, true);
}

json_t *state_to_json(const struct state *st)
{
	struct doc_out out = { .fd = -1 };
	json_t *o = st && doc_text(st, &out) == 0 ? json_loadb(out.b.data, out.b.len, 0, NULL)
						  : NULL;

	buf_free(&out.b);
	return o;
}

static int fill_doc(int fd, void *arg)
{
	struct doc_out out = { .fd = fd };
	int rc = doc_text(arg, &out);

	buf_free(&out.b);
	return rc;
}

static int write_doc(struct state *st)
{
	/* A state file is for looking at, not for surviving a crash: no fsync. */
	return path_replace(st->path, 0644, false, fill_doc, st);
}

int state_flush(struct state *st)
{
	if (!st || !st->dirty)
		return 0;
	st->written_ms = mono_ms();
	if (write_doc(st) < 0) {
		if (!st->failing)
			log_warn("write state file %s: %s (flannel-status will not see this tool;"
				 " retrying every second)", st->path, strerror(errno));
		st->failing = true;
		return -1;
	}
	if (st->failing)
		log_notice("wrote state file %s again", st->path);
	st->failing = false;
	st->dirty = false;
	return 0;
}

int state_tick(struct state *st)
{
	int64_t now, age;

	if (!st || !st->dirty)
		return -1;
	now = mono_ms();
	age = now - st->written_ms;
	if (st->written_ms && age < STATE_PERIOD_MS)
		return (int)(STATE_PERIOD_MS - age);
	if (state_flush(st) < 0)
		return STATE_PERIOD_MS;
	return -1;
}
