/* event.c - the JSON-lines event schema of man/flannel-events.7. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/timefmt.h"
#include "model/event.h"

static const char *const type_names[] = {
	[EV_UNKNOWN] = "unknown", [EV_ADDED] = "added", [EV_REMOVED] = "removed",
	[EV_SYNC] = "sync", [EV_SNAPSHOT] = "snapshot",
};

const char *event_type_name(enum event_type t)
{
	return t <= EV_SNAPSHOT ? type_names[t] : "unknown";
}

void event_init(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	lease_init(&ev->lease);
}

void event_clear(struct event *ev)
{
	lease_clear(&ev->lease);
	event_init(ev);
}

static json_t *addr_json(const struct ipaddr *a)
{
	char buf[ADDR_STRLEN];
	static const uint8_t zero[16];

	if (!addr_is_set(a) || memcmp(a->b, zero, a->family == AF_INET ? 4 : 16) == 0)
		return json_null();
	return json_string(addr_format(a, buf, sizeof(buf)));
}

static json_t *prefix_json(const struct prefix *p)
{
	char buf[ADDR_STRLEN];

	if (!addr_is_set(&p->addr))
		return json_null();
	return json_string(prefix_format(p, buf, sizeof(buf)));
}

static int add_lease_fields(json_t *o, const struct event *ev)
{
	const struct lease *l = &ev->lease;
	char buf[40];
	int bad = 0;

	bad |= json_object_set_new(o, "subnet", prefix_json(&l->subnet));
	bad |= json_object_set_new(o, "ipv6_subnet", prefix_json(&l->subnet6));
	if (ev->type == EV_REMOVED && !ev->has_attrs)
		return bad;
	bad |= json_object_set_new(o, "public_ip", addr_json(&l->public_ip));
	bad |= json_object_set_new(o, "public_ipv6", addr_json(&l->public_ip6));
	bad |= json_object_set_new(o, "backend_type", json_string(l->backend_type));
	bad |= json_object_set(o, "backend_data", l->backend_data ? l->backend_data : json_null());
	bad |= json_object_set(o, "backend_v6_data",
			       l->backend_v6_data ? l->backend_v6_data : json_null());
	snprintf(buf, sizeof(buf), "%" PRId64, l->lease_id);
	bad |= json_object_set_new(o, "lease_id", json_string(buf));
	bad |= json_object_set_new(o, "expiration",
				   l->expiration ? json_string(time_format_utc(l->expiration, buf,
									       sizeof(buf)))
						 : json_null());
	return bad;
}

json_t *event_to_json(const struct event *ev)
{
	json_t *o = json_object();
	int bad = !o;

	if (bad)
		return NULL;
	bad |= json_object_set_new(o, "type", json_string(event_type_name(ev->type)));
	if (ev->type == EV_ADDED || ev->type == EV_REMOVED) {
		bad |= json_object_set_new(o, "key", json_string(ev->key));
		bad |= add_lease_fields(o, ev);
		if (ev->lease.self)
			bad |= json_object_set_new(o, "self", json_true());
	}
	bad |= json_object_set_new(o, "revision", json_integer(ev->revision));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int event_write(FILE *f, const struct event *ev)
{
	if (event_print(f, ev) < 0 || fflush(f) == EOF)
		return -1;
	return 0;
}

int event_print(FILE *f, const struct event *ev)
{
	static char buf[16384];
	json_t *o = event_to_json(ev);
	char *big = NULL, *line = buf;
	size_t n;
	int rc = 0;

	if (!o) {
		errno = ENOMEM;
		return -1;
	}
	/* One buffer, one write: jansson's own stream output writes piecemeal. */
	n = json_dumpb(o, buf, sizeof(buf) - 1, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (n >= sizeof(buf) - 1) {
		big = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		line = big;
		n = big ? strlen(big) : 0;
	}
	json_decref(o);
	if (!line) {
		errno = ENOMEM;
		return -1;
	}
	if (line == buf) {
		buf[n++] = '\n';
		if (fwrite(buf, 1, n, f) != n)
			rc = -1;
	} else if (fwrite(big, 1, n, f) != n || fputc('\n', f) == EOF) {
		rc = -1;
	}
	free(big);
	return rc;
}

static int parse_prefix_field(json_t *o, const char *name, int family, struct prefix *p,
			      char *err, size_t errlen)
{
	json_t *v = json_object_get(o, name);

	memset(p, 0, sizeof(*p));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || prefix_parse_strict(json_string_value(v), p) < 0 ||
	    p->addr.family != family) {
		snprintf(err, errlen, "%s is not an IPv%d prefix", name, family == AF_INET ? 4 : 6);
		return -1;
	}
	return 0;
}

static int parse_addr_field(json_t *o, const char *name, int family, struct ipaddr *a,
			    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || addr_parse_family(json_string_value(v), family, a) < 0) {
		snprintf(err, errlen, "%s is not an IPv%d address", name, family == AF_INET ? 4 : 6);
		return -1;
	}
	return 0;
}

static int parse_lease_fields(json_t *o, struct event *ev, char *err, size_t errlen)
{
	struct lease *l = &ev->lease;
	json_t *v;

	if (parse_prefix_field(o, "subnet", AF_INET, &l->subnet, err, errlen) < 0 ||
	    parse_prefix_field(o, "ipv6_subnet", AF_INET6, &l->subnet6, err, errlen) < 0)
		return -1;
	if (!addr_is_set(&l->subnet.addr) && !addr_is_set(&l->subnet6.addr)) {
		snprintf(err, errlen, "event has neither subnet nor ipv6_subnet");
		return -1;
	}
	v = json_object_get(o, "key");
	if (v && json_is_string(v) && json_string_length(v) < sizeof(ev->key))
		memcpy(ev->key, json_string_value(v), json_string_length(v) + 1);
	else
		subnet_key_format(&l->subnet, &l->subnet6, ev->key, sizeof(ev->key));
	l->self = json_is_true(json_object_get(o, "self"));
	ev->has_attrs = json_object_get(o, "public_ip") != NULL ||
			json_object_get(o, "backend_type") != NULL;
	if (parse_addr_field(o, "public_ip", AF_INET, &l->public_ip, err, errlen) < 0 ||
	    parse_addr_field(o, "public_ipv6", AF_INET6, &l->public_ip6, err, errlen) < 0)
		return -1;
	v = json_object_get(o, "backend_type");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(l->backend_type)) {
			snprintf(err, errlen, "backend_type is not a short string");
			return -1;
		}
		memcpy(l->backend_type, json_string_value(v), json_string_length(v) + 1);
	}
	v = json_object_get(o, "backend_data");
	if (v && !json_is_null(v))
		l->backend_data = json_incref(v);
	v = json_object_get(o, "backend_v6_data");
	if (v && !json_is_null(v))
		l->backend_v6_data = json_incref(v);
	v = json_object_get(o, "lease_id");
	if (v && json_is_string(v))
		l->lease_id = strtoll(json_string_value(v), NULL, 10);
	v = json_object_get(o, "expiration");
	if (v && json_is_string(v) && time_parse_utc(json_string_value(v), &l->expiration) < 0) {
		snprintf(err, errlen, "expiration is not an RFC 3339 UTC time");
		return -1;
	}
	if (ev->type == EV_ADDED || ev->has_attrs)
		return lease_validate(l, err, errlen);
	return 0;
}

int event_parse(const char *line, struct event *ev, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o, *t, *rev;
	const char *ts;
	int rc = -1;

	event_clear(ev);
	o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(err, errlen, "invalid JSON: %s", jerr.text);
		return -1;
	}
	t = json_object_get(o, "type");
	if (!json_is_object(o) || !json_is_string(t)) {
		snprintf(err, errlen, "not a JSON object with a string \"type\"");
		goto out;
	}
	ts = json_string_value(t);
	ev->type = EV_UNKNOWN;
	for (int i = EV_ADDED; i <= EV_SNAPSHOT; i++)
		if (strcmp(ts, type_names[i]) == 0)
			ev->type = (enum event_type)i;
	snprintf(ev->type_name, sizeof(ev->type_name), "%s", ts);
	rev = json_object_get(o, "revision");
	if (rev && !json_is_integer(rev)) {
		snprintf(err, errlen, "revision is not an integer");
		goto out;
	}
	ev->revision = rev ? json_integer_value(rev) : 0;
	if (ev->type == EV_ADDED || ev->type == EV_REMOVED) {
		if (parse_lease_fields(o, ev, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc < 0)
		event_clear(ev);
	return rc;
}

struct line_reader {
	int fd;
	struct buf b;        /* its max is the longest line */
	size_t start;
	unsigned long lineno;
	bool eof;
	bool skipping;       /* inside an over-long line: drop up to its newline */
};

struct line_reader *line_reader_new(int fd, size_t max)
{
	struct line_reader *r = fl_calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = fd;
	r->b.max = max;
	if (buf_reserve(&r->b, max < 65536 ? max : 65535) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

void line_reader_free(struct line_reader *r)
{
	if (!r)
		return;
	buf_free(&r->b);
	free(r);
}

/* The line from start up to end (its newline, or the NUL after the last). */
static char *take_line(struct line_reader *r, char *end, unsigned long *lineno)
{
	char *line = r->b.data + r->start;
	size_t at = (size_t)(end - r->b.data);

	*end = '\0';
	r->start = at < r->b.len ? at + 1 : at;
	*lineno = ++r->lineno;
	return line;
}

/* Make room for more input: 0, LINE_TOO_LONG, or -1 (ENOMEM). */
static int make_room(struct line_reader *r)
{
	buf_drop(&r->b, r->start);
	r->start = 0;
	if (r->b.len + 1 < r->b.cap)
		return 0;
	if (r->b.len >= r->b.max) {
		/* Too long: report it once and drop it up to its newline. */
		r->skipping = true;
		buf_reset(&r->b);
		r->lineno++;
		return LINE_TOO_LONG;
	}
	return buf_reserve(&r->b, 1);
}

int line_reader_next(struct line_reader *r, char **line, unsigned long *lineno)
{
	for (;;) {
		char *nl = memchr(r->b.data + r->start, '\n', r->b.len - r->start);
		ssize_t n;
		int rc;

		if (nl && r->skipping) {
			r->skipping = false;
			r->start = (size_t)(nl - r->b.data) + 1;
			continue;
		}
		if (nl) {
			*line = take_line(r, nl, lineno);
			return 1;
		}
		if (r->skipping) {
			buf_reset(&r->b);
			r->start = 0;
		}
		if (r->eof) {
			/* A last line without newline still counts. */
			if (r->b.len > r->start) {
				*line = take_line(r, r->b.data + r->b.len, lineno);
				return 1;
			}
			return 0;
		}
		rc = make_room(r);
		if (rc == LINE_TOO_LONG)
			*lineno = r->lineno;
		if (rc)
			return rc;
		n = read(r->fd, r->b.data + r->b.len, r->b.cap - r->b.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return LINE_WOULD_BLOCK;
			return -1;
		}
		if (n == 0)
			r->eof = true;
		buf_commit(&r->b, (size_t)n);
	}
}
