/* report_text.c - the report for a person: the lease, the pieces, the
 * peers, then every problem by name. */
#include <stdio.h>
#include <string.h>

#include "base/timefmt.h"
#include "status/report.h"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "3s", "5m", "2h10m", "4d" for a span of seconds. */
static const char *span(long long s, char *b, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(b, len, "%llds", s);
	else if (s < 7200)
		snprintf(b, len, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(b, len, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(b, len, "%lldd", s / 86400);
	return b;
}

/* How long ago an RFC 3339 time was: "3s ago", or "-". */
static const char *ago(const struct report *r, const char *when, char *b, size_t len)
{
	char s[32];
	time_t t;

	if (!when || time_parse_utc(when, &t) < 0)
		return "-";
	snprintf(b, len, "%s ago", span((long long)(r->now - t), s, sizeof(s)));
	return b;
}

static void print_lease(const struct report *r, FILE *f)
{
	const json_t *l = json_object_get(r->doc, "lease");
	const json_t *ttl = json_object_get(l, "ttl_left");
	char b[32];

	if (!json_is_object(l)) {
		fprintf(f, "lease     none known (no flannel-lease state file)\n");
	} else {
		fprintf(f, "lease     %s", or_dash(jstr(l, "subnet")));
		if (jstr(l, "ipv6_subnet"))
			fprintf(f, " %s", jstr(l, "ipv6_subnet"));
		fprintf(f, "  public IP %s  backend %s  ", or_dash(jstr(l, "public_ip")),
			or_dash(jstr(l, "backend_type")));
		if (json_is_integer(ttl) && json_integer_value(ttl) > 0)
			fprintf(f, "expires in %s\n",
				span((long long)json_integer_value(ttl), b, sizeof(b)));
		else
			fprintf(f, "%s\n", json_is_integer(ttl) ? "EXPIRED" : "no expiry");
	}
	fprintf(f, "network   %s", or_dash(jstr(r->doc, "network")));
	if (jstr(r->doc, "ipv6_network"))
		fprintf(f, " %s", jstr(r->doc, "ipv6_network"));
	fputc('\n', f);
}

static unsigned long long counter(const json_t *p, const char *k)
{
	return (unsigned long long)json_integer_value(
		json_object_get(json_object_get(p, "counters"), k));
}

static void print_pieces(const struct report *r, FILE *f)
{
	const json_t *p;
	size_t i;
	char b[48], rev[24];

	fprintf(f, "\n%-18s %-8s %-7s %-6s %-8s %7s %6s %7s %5s %8s  %s\n", "PIECE", "PID",
		"RUNNING", "SYNCED", "REVISION", "EVENTS", "ERRORS", "SKIPPED", "HEALS",
		"RESTARTS", "ETCD");
	json_array_foreach(json_object_get(r->doc, "pieces"), i, p) {
		const json_t *e = json_object_get(p, "etcd");

		if (json_is_integer(json_object_get(p, "revision")))
			snprintf(rev, sizeof(rev), "%lld",
				 (long long)json_integer_value(json_object_get(p, "revision")));
		else
			snprintf(rev, sizeof(rev), "-");
		fprintf(f, "%-18s %-8lld %-7s %-6s %-8s %7llu %6llu %7llu %5llu %8llu  ",
			jstr(p, "tool"), (long long)json_integer_value(json_object_get(p, "pid")),
			json_is_true(json_object_get(p, "running")) ? "yes" : "NO",
			json_is_true(json_object_get(p, "synced")) ? "yes" : "no", rev,
			counter(p, "events"), counter(p, "errors"), counter(p, "skipped"),
			counter(p, "heals"), counter(p, "restarts"));
		if (json_is_object(e))
			fprintf(f, "%s (contact %s)\n", or_dash(jstr(e, "endpoint")),
				ago(r, jstr(e, "last_contact"), b, sizeof(b)));
		else
			fprintf(f, "-\n");
	}
}

static void print_peers(const struct report *r, FILE *f)
{
	const json_t *peers = json_object_get(r->doc, "peers"), *p;
	size_t i;
	char b[48];

	if (!json_array_size(peers)) {
		fprintf(f, "\nno peers known\n");
		return;
	}
	fprintf(f, "\n%-20s %-16s %-10s %-9s %-8s %-10s %-18s %s\n", "PEER", "PUBLIC IP",
		"BACKEND", "INSTALLED", "KERNEL", "LAST SEEN", "APPLIER", "WHY NOT");
	json_array_foreach(peers, i, p) {
		const char *s = jstr(p, "subnet") ? jstr(p, "subnet") : jstr(p, "ipv6_subnet");
		const char *ip = jstr(p, "public_ip") ? jstr(p, "public_ip") : jstr(p, "public_ipv6");
		bool in = json_is_true(json_object_get(p, "installed"));

		fprintf(f, "%-20s %-16s %-10s %-9s %-8s %-10s %-18s %s\n", or_dash(s), or_dash(ip),
			or_dash(jstr(p, "backend")), in ? "yes" : "NO", or_dash(jstr(p, "kernel")),
			ago(r, jstr(p, "last_seen"), b, sizeof(b)), or_dash(jstr(p, "tool")),
			in ? "" : or_dash(jstr(p, "reason")));
	}
}

int report_print_text(const struct report *r, FILE *f)
{
	const json_t *p;
	size_t i;

	if (r->problems)
		fprintf(f, "DEGRADED: %zu problem%s (listed at the end)\n\n", r->problems,
			r->problems == 1 ? "" : "s");
	else
		fprintf(f, "ok: every piece runs and is in sync, every peer is installed\n\n");
	print_lease(r, f);
	print_pieces(r, f);
	print_peers(r, f);
	if (r->problems)
		fprintf(f, "\nproblems:\n");
	json_array_foreach(json_object_get(r->doc, "problems"), i, p)
		fprintf(f, "  %s%s%s\n", jstr(p, "tool") ? jstr(p, "tool") : "",
			jstr(p, "tool") ? ": " : "", jstr(p, "problem"));
	return ferror(f) || fflush(f) == EOF ? -1 : 0;
}
