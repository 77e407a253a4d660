/* metrics.c - the report in Prometheus' text exposition format (0.0.4):
 * every family once, with HELP and TYPE, its samples together; names
 * prefixed flannel_, counters suffixed _total. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "status/report.h"

/* A value of a piece: a path of at most two keys, a boolean or a time. */
enum vkind { V_INT, V_BOOL, V_TIME };

struct family {
	const char *name, *type, *help;
	const char *key, *sub;   /* the piece's key (and the key inside it) */
	enum vkind kind;
};

static const struct family piece_families[] = {
	{ "flannel_up", "gauge", "Whether the piece's process runs (1) or is gone (0).",
	  "running", NULL, V_BOOL },
	{ "flannel_synced", "gauge",
	  "Whether the piece has a complete view of the leases (flannel-lease: holds its lease).",
	  "synced", NULL, V_BOOL },
	{ "flannel_sync_revision", "gauge", "The etcd revision of the piece's last complete view.",
	  "revision", NULL, V_INT },
	{ "flannel_sync_timestamp_seconds", "gauge",
	  "When the piece last reached a complete view, in seconds since the epoch.", "sync_time",
	  NULL, V_TIME },
	{ "flannel_events_total", "counter", "Events or etcd changes the piece handled.",
	  "counters", "events", V_INT },
	{ "flannel_errors_total", "counter", "Kernel, etcd or command errors the piece met.",
	  "counters", "errors", V_INT },
	{ "flannel_skipped_leases_total", "counter", "Leases the piece refused.", "counters",
	  "skipped", V_INT },
	{ "flannel_heals_total", "counter",
	  "Kernel objects the piece put back after something else removed them.", "counters",
	  "heals", V_INT },
	{ "flannel_restarts_total", "counter",
	  "Restarts: pieces restarted by flanneld, etcd reconnects, leases acquired again.",
	  "counters", "restarts", V_INT },
	{ "flannel_peers", "gauge", "Remote leases the applier knows.", "peers", NULL, V_INT },
	{ "flannel_peers_refused", "gauge", "Remote leases the applier did not install.",
	  "refused", NULL, V_INT },
	{ "flannel_etcd_last_contact_timestamp_seconds", "gauge",
	  "When etcd last answered the piece, in seconds since the epoch.", "etcd",
	  "last_contact", V_TIME },
};

/* A label value with backslash, double quote and newline escaped. */
static void label(struct buf *b, const char *name, const char *v, bool first)
{
	buf_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			buf_str(b, "\\n");
		else
			buf_add(b, v, 1);
	}
	buf_str(b, "\"");
}

static void header(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* 1 with *out when the piece has the value. */
static int value_of(const json_t *p, const struct family *f, long long *out)
{
	const json_t *v = json_object_get(p, f->key);
	time_t t;

	if (f->sub)
		v = json_object_get(v, f->sub);
	if (f->kind == V_BOOL && json_is_boolean(v))
		*out = json_is_true(v);
	else if (f->kind == V_INT && json_is_integer(v))
		*out = (long long)json_integer_value(v);
	else if (f->kind == V_TIME && json_is_string(v) &&
		 time_parse_utc(json_string_value(v), &t) == 0)
		*out = (long long)t;
	else
		return 0;
	return 1;
}

static void piece_family(struct buf *b, const struct report *r, const struct family *f)
{
	const json_t *p;
	long long v;
	size_t i;
	bool any = false;

	json_array_foreach(json_object_get(r->doc, "pieces"), i, p) {
		if (!value_of(p, f, &v))
			continue;
		if (!any)
			header(b, f->name, f->type, f->help);
		any = true;
		buf_printf(b, "%s{", f->name);
		label(b, "tool", json_string_value(json_object_get(p, "tool")), true);
		if (!strcmp(f->key, "etcd"))
			label(b, "endpoint",
			      json_string_value(json_object_get(json_object_get(p, "etcd"), "endpoint")),
			      false);
		buf_printf(b, "} %lld\n", v);
	}
}

static void peers_family(struct buf *b, const struct report *r)
{
	const json_t *peers = json_object_get(r->doc, "peers"), *p;
	size_t i;

	if (!json_array_size(peers))
		return;
	header(b, "flannel_peer_installed", "gauge",
	       "Whether the applier installed the remote lease (1) or refused it (0).");
	json_array_foreach(peers, i, p) {
		const char *s = json_string_value(json_object_get(p, "subnet"));
		const char *ip = json_string_value(json_object_get(p, "public_ip"));

		buf_str(b, "flannel_peer_installed{");
		label(b, "tool", json_string_value(json_object_get(p, "tool")), true);
		label(b, "subnet", s ? s : json_string_value(json_object_get(p, "ipv6_subnet")), false);
		label(b, "public_ip", ip ? ip : json_string_value(json_object_get(p, "public_ipv6")),
		      false);
		label(b, "backend", json_string_value(json_object_get(p, "backend")), false);
		buf_printf(b, "} %d\n", json_is_true(json_object_get(p, "installed")));
	}
}

static void lease_family(struct buf *b, const struct report *r)
{
	const json_t *l = json_object_get(r->doc, "lease");
	const json_t *ttl = json_object_get(l, "ttl_left");
	const char *s = json_string_value(json_object_get(l, "subnet"));

	if (!json_is_integer(ttl))
		return;
	if (!s)
		s = json_string_value(json_object_get(l, "ipv6_subnet"));
	header(b, "flannel_lease_ttl_seconds", "gauge",
	       "Seconds until this host's lease expires unless renewed.");
	buf_str(b, "flannel_lease_ttl_seconds{");
	label(b, "subnet", s, true);
	buf_printf(b, "} %lld\n", (long long)json_integer_value(ttl));
}

char *report_metrics(const struct report *r)
{
	struct buf b = { 0 };

	for (size_t i = 0; i < sizeof(piece_families) / sizeof(piece_families[0]); i++)
		piece_family(&b, r, &piece_families[i]);
	peers_family(&b, r);
	lease_family(&b, r);
	header(&b, "flannel_problems", "gauge",
	       "Problems flannel-status names on this host (0: all is well).");
	buf_printf(&b, "flannel_problems %zu\n", r->problems);
	return buf_take(&b);
}
