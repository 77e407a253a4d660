/* config.c - parse and check the network config with upstream's defaults. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "model/config.h"
#include "model/gojson.h"

void config_init(struct net_config *c)
{
	memset(c, 0, sizeof(*c));
	c->enable_ipv4 = true;
}

void config_clear(struct net_config *c)
{
	json_decref(c->backend);
	config_init(c);
}

json_t *config_backend_get(const struct net_config *c, const char *key)
{
	return c->backend ? gojson_get(c->backend, key) : NULL;
}

static int get_bool(json_t *o, const char *name, bool *out, char *err, size_t errlen)
{
	json_t *v = gojson_get(o, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "%s must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int get_len(json_t *o, const char *name, unsigned max, unsigned *out, char *err,
		   size_t errlen)
{
	json_t *v = gojson_get(o, name);
	json_int_t n;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "%s must be an integer", name);
		return -1;
	}
	n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)max) {
		snprintf(err, errlen, "%s %lld is not within 0..%u", name, (long long)n, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int get_prefix(json_t *o, const char *name, int family, struct prefix *out, char *err,
		      size_t errlen)
{
	json_t *v = gojson_get(o, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || prefix_parse(json_string_value(v), out) < 0 ||
	    out->addr.family != family || addr_is_v4_mapped(&out->addr)) {
		snprintf(err, errlen, "%s must be an IPv%d CIDR such as %s", name,
			 family == AF_INET ? 4 : 6,
			 family == AF_INET ? "100.64.0.0/16" : "2001:db8:1::/48");
		return -1;
	}
	return 0;
}

static int get_addr(json_t *o, const char *name, int family, struct ipaddr *out, char *err,
		    size_t errlen)
{
	json_t *v = gojson_get(o, name);

	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	if (!json_is_string(v) || addr_parse_family(json_string_value(v), family, out) < 0 ||
	    addr_is_v4_mapped(out)) {
		snprintf(err, errlen, "%s must be an IPv%d address", name,
			 family == AF_INET ? 4 : 6);
		return -1;
	}
	return 0;
}

struct family_rules {
	int family;
	const char *net, *len, *min, *max;
	unsigned max_len, min_net_len, wide_net, wide_len;
};

static const struct family_rules v4_rules = {
	AF_INET, "Network", "SubnetLen", "SubnetMin", "SubnetMax", 30, 28, 22, 24,
};
static const struct family_rules v6_rules = {
	AF_INET6, "IPv6Network", "IPv6SubnetLen", "IPv6SubnetMin", "IPv6SubnetMax", 126, 124, 62, 64,
};

static bool addr_is_zero(const struct ipaddr *a)
{
	static const uint8_t zero[16];

	return !addr_is_set(a) || memcmp(a->b, zero, 16) == 0;
}

/* Upstream's checks and defaults for one family (pkg/subnet/config.go). */
static int check_family(const struct family_rules *r, const struct prefix *net, unsigned *len,
			struct ipaddr *min, struct ipaddr *max, char *err, size_t errlen)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	struct prefix last;

	if (!addr_is_set(&net->addr) || net->len == 0) {
		snprintf(err, errlen, "%s is missing or /0: define the overlay network, e.g. %s",
			 r->net, r->family == AF_INET ? "100.64.0.0/16" : "2001:db8:1::/48");
		return -1;
	}
	if (*len > 0) {
		if (*len > r->max_len) {
			snprintf(err, errlen, "%s %u must be at most %u (less than /%u)", r->len,
				 *len, r->max_len, r->max_len + 1);
			return -1;
		}
		if (*len < net->len + 2) {
			snprintf(err, errlen,
				 "%s %u must be at least /%u: the %s /%u must hold at least four subnets",
				 r->len, *len, net->len + 2, r->net, net->len);
			return -1;
		}
	} else if (net->len > r->min_net_len) {
		snprintf(err, errlen, "%s /%u is too small: the minimum useful prefix is /%u",
			 r->net, net->len, r->min_net_len);
		return -1;
	} else {
		*len = net->len <= r->wide_net ? r->wide_len : net->len + 2;
	}
	if (addr_is_zero(min)) {
		struct prefix p = { .addr = net->addr, .len = *len };

		prefix_next(&p);
		*min = p.addr;
	}
	if (addr_is_zero(max)) {
		struct prefix whole = *net;

		prefix_last_addr(&whole, &last.addr);
		last.len = *len;
		prefix_mask(&last);
		*max = last.addr;
	}
	if (!prefix_contains_addr(net, min) || !prefix_contains_addr(net, max)) {
		const char *which = !prefix_contains_addr(net, min) ? r->min : r->max;

		snprintf(err, errlen, "%s %s is not inside %s %s", which,
			 addr_format(which == r->min ? min : max, a, sizeof(a)), r->net,
			 prefix_format(net, b, sizeof(b)));
		return -1;
	}
	if (!addr_is_aligned(min, *len) || !addr_is_aligned(max, *len)) {
		const char *which = !addr_is_aligned(min, *len) ? r->min : r->max;

		snprintf(err, errlen, "%s %s is not on a /%u (%s) boundary", which,
			 addr_format(which == r->min ? min : max, a, sizeof(a)), *len, r->len);
		return -1;
	}
	if (addr_cmp(min, max) > 0) {
		snprintf(err, errlen, "%s %s is above %s %s", r->min, addr_format(min, a, sizeof(a)),
			 r->max, addr_format(max, b, sizeof(b)));
		return -1;
	}
	return 0;
}

static int parse_backend(json_t *root, struct net_config *c, char *err, size_t errlen)
{
	json_t *b = gojson_get(root, "Backend"), *t;
	size_t n;

	if (!b || json_is_null(b)) {
		/* Upstream's default when Backend is absent. */
		snprintf(c->backend_type, sizeof(c->backend_type), "udp");
		return 0;
	}
	if (!json_is_object(b)) {
		snprintf(err, errlen, "Backend must be a JSON object such as {\"Type\":\"vxlan\"}");
		return -1;
	}
	t = gojson_get(b, "Type");
	if (!t || !json_is_string(t) || (n = json_string_length(t)) == 0) {
		snprintf(err, errlen, "Backend.Type must be a backend name such as \"vxlan\"");
		return -1;
	}
	if (n >= sizeof(c->backend_type)) {
		snprintf(err, errlen, "Backend.Type is too long");
		return -1;
	}
	for (size_t i = 0; i <= n; i++) {
		char ch = json_string_value(t)[i];

		c->backend_type[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	c->backend = json_incref(b);
	return 0;
}

static int parse_fields(json_t *root, struct net_config *c, char *err, size_t errlen)
{
	if (get_bool(root, "EnableIPv4", &c->enable_ipv4, err, errlen) < 0 ||
	    get_bool(root, "EnableIPv6", &c->enable_ipv6, err, errlen) < 0 ||
	    get_prefix(root, "Network", AF_INET, &c->network, err, errlen) < 0 ||
	    get_prefix(root, "IPv6Network", AF_INET6, &c->network6, err, errlen) < 0 ||
	    get_len(root, "SubnetLen", 128, &c->subnet_len, err, errlen) < 0 ||
	    get_len(root, "IPv6SubnetLen", 256, &c->subnet6_len, err, errlen) < 0 ||
	    get_addr(root, "SubnetMin", AF_INET, &c->subnet_min, err, errlen) < 0 ||
	    get_addr(root, "SubnetMax", AF_INET, &c->subnet_max, err, errlen) < 0 ||
	    get_addr(root, "IPv6SubnetMin", AF_INET6, &c->subnet6_min, err, errlen) < 0 ||
	    get_addr(root, "IPv6SubnetMax", AF_INET6, &c->subnet6_max, err, errlen) < 0)
		return -1;
	return parse_backend(root, c, err, errlen);
}

int config_parse(const char *json, size_t len, struct net_config *c, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int rc = -1;

	config_clear(c);
	root = json_loadb(json, len, 0, &jerr);
	if (!root) {
		snprintf(err, errlen, "invalid JSON at line %d: %s", jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "the config must be a JSON object");
		goto out;
	}
	if (parse_fields(root, c, err, errlen) < 0)
		goto out;
	if (!c->enable_ipv4 && !c->enable_ipv6) {
		snprintf(err, errlen, "EnableIPv4 and EnableIPv6 are both false: no stack defined");
		goto out;
	}
	if (c->enable_ipv4 && check_family(&v4_rules, &c->network, &c->subnet_len,
					   &c->subnet_min, &c->subnet_max, err, errlen) < 0)
		goto out;
	if (c->enable_ipv6 && check_family(&v6_rules, &c->network6, &c->subnet6_len,
					   &c->subnet6_min, &c->subnet6_max, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		config_clear(c);
	return rc;
}

static bool subnet_in_range(const struct prefix *p, unsigned len, const struct ipaddr *min,
			    const struct ipaddr *max)
{
	return p->len == len && addr_cmp(&p->addr, min) >= 0 && addr_cmp(&p->addr, max) <= 0;
}

bool config_subnet_ok(const struct net_config *c, const struct prefix *p)
{
	return p->addr.family == AF_INET &&
	       subnet_in_range(p, c->subnet_len, &c->subnet_min, &c->subnet_max);
}

bool config_subnet6_ok(const struct net_config *c, const struct prefix *p)
{
	return p->addr.family == AF_INET6 &&
	       subnet_in_range(p, c->subnet6_len, &c->subnet6_min, &c->subnet6_max);
}
