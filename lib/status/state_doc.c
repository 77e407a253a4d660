/* state_doc.c - a state document read back (flannel-state(5)): loaded and
 * checked for what its readers rely on, its process asked whether it still
 * runs, one of its peers found by subnet.  flannel-status and flannel-check
 * read them through here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model/subnet.h"
#include "status/state.h"

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A tool name as the state files use it: flannel-vxlan, flanneld. */
static bool tool_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n < 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

json_t *state_doc_load(const char *path, char *why, size_t len)
{
	json_error_t jerr;
	struct stat st;
	json_t *o, *pid;

	if (stat(path, &st) < 0) {
		snprintf(why, len, "%s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "not a regular file");
		return NULL;
	}
	if (st.st_size > (off_t)STATE_FILE_MAX) {
		snprintf(why, len, "larger than %u bytes", STATE_FILE_MAX);
		return NULL;
	}
	o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(why, len, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return NULL;
	}
	pid = json_object_get(o, "pid");
	if (!json_is_object(o) || !jstr(o, "type") || strcmp(jstr(o, "type"), "state") != 0)
		snprintf(why, len, "not a state document (no \"type\":\"state\")");
	else if (json_integer_value(json_object_get(o, "version")) != STATE_VERSION)
		snprintf(why, len, "version is not %d", STATE_VERSION);
	else if (!tool_name_ok(jstr(o, "tool")))
		snprintf(why, len, "no valid \"tool\"");
	else if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
		 json_integer_value(pid) > 0x7fffffff)
		snprintf(why, len, "no valid \"pid\"");
	else
		return o;
	json_decref(o);
	return NULL;
}

bool state_doc_running(const json_t *doc)
{
	long pid = (long)json_integer_value(json_object_get(doc, "pid"));
	json_int_t want = json_integer_value(json_object_get(doc, "pid_start"));
	long long start = state_proc_start(pid);

	return start >= 0 && (want <= 0 || start == want);
}

/* A peer's prefix field equal to want. */
static bool field_is(const json_t *peer, const char *k, const struct prefix *want)
{
	const char *s = jstr(peer, k);
	struct prefix p;

	return s && prefix_parse(s, &p) == 0 && prefix_equal(&p, want);
}

const json_t *state_doc_peer(const json_t *doc, const struct prefix *subnet)
{
	const json_t *peers = json_object_get(doc, "peers"), *p;
	size_t i;

	if (!subnet->addr.family)
		return NULL;
	json_array_foreach(peers, i, p) {
		if (json_is_object(p) &&
		    (field_is(p, "subnet", subnet) || field_is(p, "ipv6_subnet", subnet)))
			return p;
	}
	return NULL;
}
