/* report.c - the state files read back and judged: is each piece running
 * and synced, does etcd answer, is the lease alive, is every peer installed
 * and routed.  Each thing wrong is one entry of "problems", named. */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/timefmt.h"
#include "netlink/nl.h"
#include "status/report.h"
#include "status/state.h"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void problem(struct report *r, const char *tool, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct report *r, const char *tool, const char *fmt, ...)
{
	char text[600], esc[LOG_ESC_MAX];
	va_list ap;
	json_t *p;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	p = json_pack("{s:s*, s:s}", "tool", tool, "problem",
		      log_escape(text, strlen(text), esc, sizeof(esc)));
	if (p && json_array_append_new(json_object_get(r->doc, "problems"), p) == 0)
		r->problems++;
}

static time_t jtime(const json_t *o, const char *k)
{
	const char *s = jstr(o, k);
	time_t t;

	return s && time_parse_utc(s, &t) == 0 ? t : 0;
}

/* The kernel's routes of protocol 76, as a set of "prefix": true. */
static int add_route(const struct nl_route *rt, void *arg)
{
	char b[ADDR_STRLEN];

	json_object_set_new(arg, prefix_format(&rt->dst, b, sizeof(b)), json_true());
	return 0;
}

static json_t *kernel_routes(struct nl *nl)
{
	json_t *set = json_object();

	if (!set || !nl)
		return set;
	nl_route_dump(nl, AF_INET, RTPROT_FLANNEL, add_route, set);
	nl_route_dump(nl, AF_INET6, RTPROT_FLANNEL, add_route, set);
	return set;
}

/* Appliers whose every peer is a route of ours in the kernel. */
static bool routes_per_peer(const char *tool)
{
	return !strcmp(tool, "flannel-vxlan") || !strcmp(tool, "flannel-route") ||
	       !strcmp(tool, "flannel-ipip");
}

static void check_device(struct report *r, struct nl *nl, const char *tool, const char *dev)
{
	struct nl_link l;
	int rc;

	if (!nl || !dev || strlen(dev) >= IFNAMSIZ)
		return;
	rc = nl_link_get(nl, dev, 0, &l);
	if (rc == -ENODEV)
		problem(r, tool, "device %s is missing", dev);
	else if (rc == 0 && !(l.flags & IFF_UP))
		problem(r, tool, "device %s is down", dev);
}

static void check_peer(struct report *r, const char *tool, json_t *p, const json_t *routes)
{
	const char *s = jstr(p, "subnet") ? jstr(p, "subnet") : jstr(p, "ipv6_subnet");
	const char *ip = jstr(p, "public_ip") ? jstr(p, "public_ip") : jstr(p, "public_ipv6");
	bool installed = json_is_true(json_object_get(p, "installed"));
	bool routed = s && json_object_get(routes, s);

	if (!s)
		return;
	if (!installed) {
		problem(r, tool, "peer %s (%s) is not installed: %s", s, ip ? ip : "no public IP",
			jstr(p, "reason") ? jstr(p, "reason") : "no reason given");
		return;
	}
	if (!routes_per_peer(tool) || !routes)
		return;
	json_object_set_new(p, "kernel", json_string(routed ? "route" : "no route"));
	if (!routed)
		problem(r, tool, "peer %s (%s) is installed but the kernel has no route for it",
			s, ip ? ip : "no public IP");
}

/* The lease of flannel-lease, with its time left; expired is a problem. */
static void take_lease(struct report *r, const json_t *doc)
{
	json_t *l = json_deep_copy(json_object_get(doc, "lease"));
	time_t exp;

	if (!json_is_object(l)) {
		json_decref(l);
		return;
	}
	exp = jtime(l, "expiration");
	json_object_set_new(l, "ttl_left", exp ? json_integer((json_int_t)(exp - r->now)) :
						 json_null());
	if (exp && exp <= r->now)
		problem(r, "flannel-lease", "lease %s expired at %s",
			jstr(l, "subnet") ? jstr(l, "subnet") : "?", jstr(l, "expiration"));
	json_object_set_new(r->doc, "lease", l);
	if (jstr(doc, "network"))
		json_object_set(r->doc, "network", json_object_get(doc, "network"));
	if (jstr(doc, "ipv6_network"))
		json_object_set(r->doc, "ipv6_network", json_object_get(doc, "ipv6_network"));
}

/* o[k] when it is of the kind wanted, else null. */
static json_t *kind_or_null(const json_t *o, const char *k, json_type want)
{
	json_t *v = json_object_get(o, k);

	return v && json_typeof(v) == want ? v : json_null();
}

static json_t *piece_of(const json_t *doc, const char *file, bool alive)
{
	const json_t *sync = json_object_get(doc, "sync");
	json_t *peers = json_object_get(doc, "peers");
	json_t *p, *c = json_object_get(doc, "counters");
	size_t i, refused = 0;
	json_t *e;

	json_array_foreach(peers, i, e)
		refused += !json_is_true(json_object_get(e, "installed"));
	p = json_pack("{s:s, s:s, s:O, s:b, s:b, s:O, s:O, s:O, s:O, s:O}", "tool",
		      jstr(doc, "tool"), "file", file, "pid", json_object_get(doc, "pid"),
		      "running", alive, "synced", json_is_true(json_object_get(doc, "synced")),
		      "revision", kind_or_null(sync, "revision", JSON_INTEGER),
		      "sync_time", kind_or_null(sync, "time", JSON_STRING),
		      "updated", kind_or_null(doc, "updated", JSON_STRING),
		      "backend", kind_or_null(doc, "backend", JSON_STRING),
		      "etcd", kind_or_null(doc, "etcd", JSON_OBJECT));
	if (p)
		json_object_set_new(p, "counters", json_is_object(c) ? json_deep_copy(c) : json_object());
	if (p && json_is_array(peers)) {
		json_t *n = json_object_get(doc, "peer_count");

		json_object_set_new(p, "peers", json_is_integer(n) ? json_incref(n) :
					json_integer((json_int_t)json_array_size(peers)));
		json_object_set_new(p, "refused", json_integer((json_int_t)refused));
	}
	return p;
}

/* Running, synced, etcd answering. */
static void check_piece(struct report *r, const json_t *doc, bool alive)
{
	const char *tool = jstr(doc, "tool");
	const json_t *etcd = json_object_get(doc, "etcd");

	if (!alive) {
		problem(r, tool, "not running (pid %lld is gone; last update %s)",
			(long long)json_integer_value(json_object_get(doc, "pid")),
			jstr(doc, "updated") ? jstr(doc, "updated") : "never");
		return;
	}
	if (!json_is_true(json_object_get(doc, "synced")))
		problem(r, tool, strcmp(tool, "flannel-lease") == 0 ? "holds no lease" :
			"not in sync with etcd (no complete view of the leases)");
	if (jstr(etcd, "error"))
		problem(r, tool, "etcd at %s: %s", jstr(etcd, "endpoint") ? jstr(etcd, "endpoint") : "?",
			jstr(etcd, "error"));
}

/* flanneld's own pieces: one it is restarting is not running now. */
static void check_supervised(struct report *r, const json_t *doc)
{
	const json_t *p;
	size_t i;

	json_array_foreach(json_object_get(doc, "pieces"), i, p)
		if (json_is_false(json_object_get(p, "running")))
			problem(r, "flanneld", "piece %s (%s) is not running (restarted %lld times)",
				jstr(p, "name") ? jstr(p, "name") : "?",
				jstr(p, "tool") ? jstr(p, "tool") : "?",
				(long long)json_integer_value(json_object_get(p, "restarts")));
}

static void take_doc(struct report *r, struct nl *nl, const json_t *routes, json_t *doc,
		     const char *file)
{
	const char *tool = jstr(doc, "tool");
	bool alive = state_doc_running(doc);
	json_t *peers = json_object_get(doc, "peers"), *p;
	size_t i;

	json_array_append_new(json_object_get(r->doc, "pieces"), piece_of(doc, file, alive));
	check_piece(r, doc, alive);
	if (!strcmp(tool, "flannel-lease"))
		take_lease(r, doc);
	if (alive)
		check_device(r, nl, tool, jstr(doc, "device"));
	if (alive && !strcmp(tool, "flanneld"))
		check_supervised(r, doc);
	json_array_foreach(peers, i, p) {
		json_t *q = json_deep_copy(p);

		if (!json_is_object(q)) {
			json_decref(q);
			continue;
		}
		json_object_set_new(q, "tool", json_string(tool));
		if (alive)
			check_peer(r, tool, q, routes);
		json_array_append_new(json_object_get(r->doc, "peers"), q);
	}
}

static int is_state_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int report_collect(struct report *r, const char *dir, bool kernel)
{
	struct dirent **ents = NULL;
	struct nl *nl = kernel ? nl_open() : NULL;
	json_t *routes = kernel ? kernel_routes(nl) : NULL;
	char path[4096], why[300], t[40];
	int n;

	memset(r, 0, sizeof(*r));
	r->dir = dir;
	r->now = time(NULL);
	r->doc = json_pack("{s:s, s:i, s:s, s:s, s:b, s:n, s:n, s:[], s:[], s:[]}", "type",
			   "status", "version", REPORT_VERSION, "time",
			   time_format_utc(r->now, t, sizeof(t)), "state_dir", dir, "ok", 1, "lease",
			   "network", "pieces", "peers", "problems");
	if (!r->doc) {
		nl_close(nl);
		json_decref(routes);
		return REPORT_NOMEM;
	}
	n = scandir(dir, &ents, is_state_file, alphasort);
	if (n < 0) {
		int e = errno;

		nl_close(nl);
		json_decref(routes);
		errno = e;
		return REPORT_NO_DIR;
	}
	for (int i = 0; i < n; i++) {
		json_t *doc;

		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		free(ents[i]);
		doc = state_doc_load(path, why, sizeof(why));
		if (!doc) {
			problem(r, NULL, "state file %s: %s", path, why);
			continue;
		}
		take_doc(r, nl, routes, doc, path);
		json_decref(doc);
	}
	free(ents);
	if (n == 0)
		problem(r, NULL, "no state files in %s: is flanneld running (see --state-dir)?", dir);
	json_object_set_new(r->doc, "ok", json_boolean(r->problems == 0));
	nl_close(nl);
	json_decref(routes);
	return REPORT_OK;
}

void report_free(struct report *r)
{
	json_decref(r->doc);
	r->doc = NULL;
}

int report_print_json(const struct report *r, FILE *f)
{
	if (json_dumpf(r->doc, f, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0 || fputc('\n', f) == EOF)
		return -1;
	return 0;
}
