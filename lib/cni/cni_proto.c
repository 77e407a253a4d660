/* cni_proto.c - CNI error objects, versions, container ID and ifname rules. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/cni.h"
#include "cni/cni_json.h"

const char *const cni_versions[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1",
				     "0.4.0", "1.0.0", "1.1.0", NULL };

int cni_err_set(struct cni_err *e, unsigned code, const char *details, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	snprintf(e->details, sizeof(e->details), "%s", details ? details : "");
	return -1;
}

char *cni_err_json(const struct cni_err *e)
{
	json_t *o = json_object();
	char *s = NULL;

	if (!o)
		return NULL;
	/* Field order of Go's types.Error; details is omitempty. */
	if (json_object_set_new(o, "code", json_integer(e->code)) == 0 &&
	    json_object_set_new(o, "msg", json_string(e->msg)) == 0 &&
	    (!e->details[0] ||
	     json_object_set_new(o, "details", json_string(e->details)) == 0))
		s = cni_json_dump(o, CJ_INDENT, NULL);
	json_decref(o);
	return s;
}

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == '-');
}

bool cni_valid_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0))
			return false;
	return true;
}

int cni_check_container_id(const char *id, struct cni_err *e)
{
	if (!id || !*id)
		return cni_err_set(e, CNI_ERR_UNKNOWN_CONTAINER, NULL, "missing containerID");
	if (!cni_valid_name(id))
		return cni_err_set(e, CNI_ERR_INVALID_ENV, id, "invalid characters in containerID");
	return 0;
}

/* unicode.IsSpace on the UTF-8 sequence at s; its length in *w. */
static bool is_space_at(const unsigned char *s, size_t *w)
{
	*w = 1;
	if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
		return true;
	if (s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) {
		*w = 2;
		return true;
	}
	if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
		return (*w = 3), true;
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
		return (*w = 3), true;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
		return (*w = 3), true;
	if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
		return (*w = 3), true;
	return false;
}

int cni_check_ifname(const char *name, struct cni_err *e)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t w;

	if (!name || !*name)
		return cni_err_set(e, CNI_ERR_INVALID_ENV, NULL, "interface name is empty");
	if (strlen(name) > 15)
		return cni_err_set(e, CNI_ERR_INVALID_ENV,
				   "interface name should be less than 16 characters",
				   "interface name is too long");
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cni_err_set(e, CNI_ERR_INVALID_ENV, NULL, "interface name is . or ..");
	for (; *p; p += w) {
		if (*p == '/' || *p == ':' || is_space_at(p, &w))
			return cni_err_set(e, CNI_ERR_INVALID_ENV, NULL,
					   "interface name contains / or : or whitespace characters");
	}
	return 0;
}

bool cni_version_supported(const char *v)
{
	for (size_t i = 0; cni_versions[i]; i++)
		if (strcmp(cni_versions[i], v) == 0)
			return true;
	return false;
}

/* strconv.Atoi: optional sign, decimal digits. */
static int go_atoi(const char *s, size_t n, long long *out, char *err, size_t errlen,
		   const char *part)
{
	const char *p = s, *end = s + n;
	bool neg = false;
	unsigned long long v = 0;
	const char *why = NULL;
	struct buf q = { 0 };

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p == end)
		why = "invalid syntax";
	for (; p < end && !why; p++) {
		if (*p < '0' || *p > '9')
			why = "invalid syntax";
		else if (v > ((unsigned long long)LLONG_MAX + 1 - (unsigned)(*p - '0')) / 10)
			why = "value out of range";
		else
			v = v * 10 + (unsigned)(*p - '0');
	}
	if (!why && !neg && v > LLONG_MAX)
		why = "value out of range";
	if (!why) {
		*out = neg ? (long long)(0 - v) : (long long)v;
		return 0;
	}
	cni_json_quote(&q, s, n);
	snprintf(err, errlen, "failed to convert %s version part %s: strconv.Atoi: parsing %s: %s",
		 part, q.data ? q.data : "", q.data ? q.data : "", why);
	buf_free(&q);
	return -1;
}

int cni_version_parse(const char *v, long long out[3], char *err, size_t errlen)
{
	static const char *const parts[] = { "major", "minor", "micro" };
	const char *p = v;
	int n = 1;

	out[0] = out[1] = out[2] = 0;
	if (!*v) {
		out[1] = 1;
		return 0;
	}
	for (const char *c = v; *c; c++)
		n += *c == '.';
	if (n >= 4) {
		struct buf q = { 0 };

		cni_json_quote(&q, v, strlen(v));
		snprintf(err, errlen, "invalid version %s: too many parts", q.data ? q.data : "");
		buf_free(&q);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (go_atoi(p, len, &out[i], err, errlen, parts[i]) < 0)
			return -1;
		p += len + 1;
	}
	return 0;
}

void cni_version_details(const char *v, char *buf, size_t len)
{
	struct buf b = { 0 };

	buf_str(&b, "config is ");
	cni_json_quote(&b, v, strlen(v));
	buf_str(&b, ", plugin supports [");
	for (size_t i = 0; cni_versions[i]; i++) {
		if (i)
			buf_str(&b, " ");
		cni_json_quote(&b, cni_versions[i], strlen(cni_versions[i]));
	}
	buf_str(&b, "]");
	snprintf(buf, len, "%s", b.data && !b.failed ? b.data : "");
	buf_free(&b);
}
