/* lease.c - upstream's lease value, parsed strictly and written byte for byte. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/mem.h"
#include "model/gojson.h"
#include "model/lease.h"

void lease_init(struct lease *l)
{
	memset(l, 0, sizeof(*l));
	l->public_ip.family = AF_INET;
}

void lease_clear(struct lease *l)
{
	json_decref(l->backend_data);
	json_decref(l->backend_v6_data);
	lease_init(l);
}

int lease_copy(struct lease *dst, const struct lease *src)
{
	*dst = *src;
	dst->backend_data = NULL;
	dst->backend_v6_data = NULL;
	if (src->backend_data && !(dst->backend_data = json_deep_copy(src->backend_data)))
		goto fail;
	if (src->backend_v6_data &&
	    !(dst->backend_v6_data = json_deep_copy(src->backend_v6_data)))
		goto fail;
	return 0;
fail:
	lease_clear(dst);
	return -1;
}

static int parse_ip_field(json_t *v, int family, struct ipaddr *out, const char *name,
			  char *err, size_t errlen)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || addr_parse_family(json_string_value(v), family, out) < 0) {
		snprintf(err, errlen, "%s is not an IPv%d address", name,
			 family == AF_INET ? 4 : 6);
		return -1;
	}
	return 0;
}

/* A field Go would match twice ("PublicIP" and "publicip"). */
static bool field_twice(json_t *root, char *err, size_t errlen)
{
	static const char *const names[] = { "PublicIP", "PublicIPv6", "BackendType",
					     "BackendData", "BackendV6Data" };
	const char *k;
	json_t *v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n = 0;

		json_object_foreach(root, k, v)
			n += strcasecmp(k, names[i]) == 0;
		if (n > 1) {
			snprintf(err, errlen, "%s is given %d times", names[i], n);
			return true;
		}
	}
	return false;
}

int lease_parse_value(struct lease *l, const char *val, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *v;
	int rc = -1;

	/* Duplicates: upstream never writes them, and readers could disagree on
	 * which one counts, so a lease holding any is refused. */
	root = json_loadb(val, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "invalid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "value is not a JSON object");
		goto out;
	}
	if (field_twice(root, err, errlen))
		goto out;
	if (parse_ip_field(gojson_get(root, "PublicIP"), AF_INET, &l->public_ip, "PublicIP",
			   err, errlen) < 0 ||
	    parse_ip_field(gojson_get(root, "PublicIPv6"), AF_INET6, &l->public_ip6, "PublicIPv6",
			   err, errlen) < 0)
		goto out;
	v = gojson_get(root, "BackendType");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    json_string_length(v) >= sizeof(l->backend_type)) {
			snprintf(err, errlen, "BackendType is not a short string");
			goto out;
		}
		memcpy(l->backend_type, json_string_value(v), json_string_length(v) + 1);
	}
	v = gojson_get(root, "BackendData");
	if (v && !json_is_null(v))
		l->backend_data = json_incref(v);
	v = gojson_get(root, "BackendV6Data");
	if (v && !json_is_null(v))
		l->backend_v6_data = json_incref(v);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

char *lease_format_value(const struct lease *l)
{
	char ip[ADDR_STRLEN], ip6[ADDR_STRLEN];
	json_t *o = json_object();
	char *s = NULL;
	int bad = !o;
	struct ipaddr any4 = { .family = AF_INET };

	if (bad)
		return NULL;
	/* Field order and presence follow Go's struct LeaseAttrs. */
	bad |= json_object_set_new(o, "PublicIP",
				   json_string(addr_format(addr_is_set(&l->public_ip) ?
							   &l->public_ip : &any4, ip, sizeof(ip))));
	bad |= json_object_set_new(o, "PublicIPv6",
				   addr_is_set(&l->public_ip6) ?
					   json_string(addr_format(&l->public_ip6, ip6, sizeof(ip6))) :
					   json_null());
	if (l->backend_type[0])
		bad |= json_object_set_new(o, "BackendType", json_string(l->backend_type));
	if (l->backend_data)
		bad |= json_object_set(o, "BackendData", l->backend_data);
	if (l->backend_v6_data)
		bad |= json_object_set(o, "BackendV6Data", l->backend_v6_data);
	if (!bad)
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	json_decref(o);
	return s;
}

int lease_validate(const struct lease *l, char *err, size_t errlen)
{
	char a[ADDR_STRLEN];

	if (l->subnet.addr.family != AF_INET && l->subnet6.addr.family != AF_INET6) {
		snprintf(err, errlen, "lease has no subnet");
		return -1;
	}
	if (l->subnet.addr.family == AF_INET &&
	    (!addr_is_set(&l->public_ip) || addr_is_unusable(&l->public_ip))) {
		snprintf(err, errlen, "PublicIP %s is not a usable unicast address",
			 addr_format(&l->public_ip, a, sizeof(a)));
		return -1;
	}
	if (l->subnet6.addr.family == AF_INET6 && addr_is_set(&l->public_ip6) &&
	    addr_is_unusable(&l->public_ip6)) {
		snprintf(err, errlen, "PublicIPv6 %s is not a usable unicast address",
			 addr_format(&l->public_ip6, a, sizeof(a)));
		return -1;
	}
	return 0;
}

int lease_drop_unusable_v6(struct lease *l, char *why, size_t whylen)
{
	char a[ADDR_STRLEN], p[ADDR_STRLEN];

	if (l->subnet.addr.family != AF_INET || l->subnet6.addr.family != AF_INET6 ||
	    !addr_is_set(&l->public_ip6) || !addr_is_unusable(&l->public_ip6))
		return 0;
	snprintf(why, whylen, "PublicIPv6 %s is not a usable unicast address: "
		 "skipping its IPv6 subnet %s, keeping its IPv4 part",
		 addr_format(&l->public_ip6, a, sizeof(a)), prefix_format(&l->subnet6, p, sizeof(p)));
	memset(&l->subnet6, 0, sizeof(l->subnet6));
	memset(&l->public_ip6, 0, sizeof(l->public_ip6));
	json_decref(l->backend_v6_data);
	l->backend_v6_data = NULL;
	return 1;
}

const struct ipaddr *lease_public_of(const struct lease *l, int family)
{
	return family == AF_INET6 ? &l->public_ip6 : &l->public_ip;
}

const struct prefix *lease_subnet_of(const struct lease *l, int family)
{
	return family == AF_INET6 ? &l->subnet6 : &l->subnet;
}
