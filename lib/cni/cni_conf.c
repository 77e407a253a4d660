/* cni_conf.c - flannel's CNI config decoded as Go decodes it, and the
 * delegate config built from it and subnet.env. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "cni/cni_conf.h"
#include "cni/cni_json.h"

/* A Go struct as encoding/json sees it: enough to refuse what Go refuses. */
enum gokind { GK_STRING, GK_MAP_ANY, GK_MAP_BOOL, GK_STRUCT, GK_STR_ARRAY, GK_STRUCT_ARRAY };

struct gofield {
	const char *name;
	enum gokind kind;
	const char *gotype;          /* Go's name of the field type */
	const struct gofield *sub;   /* GK_STRUCT, GK_STRUCT_ARRAY */
	const char *elemtype;        /* GK_STRUCT_ARRAY element */
};

static const struct gofield dns_fields[] = {
	{ "nameservers", GK_STR_ARRAY, "[]string", NULL, NULL },
	{ "domain", GK_STRING, "string", NULL, NULL },
	{ "search", GK_STR_ARRAY, "[]string", NULL, NULL },
	{ "options", GK_STR_ARRAY, "[]string", NULL, NULL },
	{ NULL, 0, NULL, NULL, NULL },
};

static const struct gofield attach_fields[] = {
	{ "containerID", GK_STRING, "string", NULL, NULL },
	{ "ifname", GK_STRING, "string", NULL, NULL },
	{ NULL, 0, NULL, NULL, NULL },
};

static const struct gofield ipam_fields[] = {
	{ "type", GK_STRING, "string", NULL, NULL },
	{ NULL, 0, NULL, NULL, NULL },
};

#define PLUGINCONF_FIELDS                                                                   \
	{ "cniVersion", GK_STRING, "string", NULL, NULL },                                  \
	{ "name", GK_STRING, "string", NULL, NULL },                                        \
	{ "type", GK_STRING, "string", NULL, NULL },                                        \
	{ "capabilities", GK_MAP_BOOL, "map[string]bool", NULL, NULL },                     \
	{ "dns", GK_STRUCT, "types.DNS", dns_fields, NULL },                                \
	{ "prevResult", GK_MAP_ANY, "map[string]interface {}", NULL, NULL },                \
	{ "cni.dev/valid-attachments", GK_STRUCT_ARRAY, "[]types.GCAttachment",              \
	  attach_fields, "types.GCAttachment" }

/* flannel's NetConf: types.NetConf embedded, ipam replaced by a map. */
static const struct gofield netconf_fields[] = {
	PLUGINCONF_FIELDS,
	{ "ipam", GK_MAP_ANY, "map[string]interface {}", NULL, NULL },
	{ "subnetFile", GK_STRING, "string", NULL, NULL },
	{ "dataDir", GK_STRING, "string", NULL, NULL },
	{ "delegate", GK_MAP_ANY, "map[string]interface {}", NULL, NULL },
	{ "runtimeConfig", GK_MAP_ANY, "map[string]interface {}", NULL, NULL },
	{ "subnetFileWait", GK_STRING, "string", NULL, NULL },
	{ NULL, 0, NULL, NULL, NULL },
};

static const struct gofield pluginconf_fields[] = {
	PLUGINCONF_FIELDS,
	{ "ipam", GK_STRUCT, "types.IPAM", ipam_fields, NULL },
	{ NULL, 0, NULL, NULL, NULL },
};

static const struct gofield *field_find(const struct gofield *f, const char *key, size_t klen)
{
	for (; f->name; f++)
		if (strlen(f->name) == klen && strncasecmp(f->name, key, klen) == 0)
			return f;
	return NULL;
}

static int type_error(const json_t *v, const char *st, const char *path, const char *type,
		      char *err, size_t errlen)
{
	snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
		 cni_json_kind(v), st, path, type);
	return -1;
}

static int check_struct(const json_t *obj, const struct gofield *fields, const char *st,
			const char *prefix, char *err, size_t errlen);

/* Check one value against its field; path is "dns.nameservers" style. */
static int check_field(const json_t *v, const struct gofield *f, const char *st,
		       const char *path, char *err, size_t errlen)
{
	size_t i;
	const char *k;
	json_t *m;

	if (json_is_null(v))
		return 0;
	switch (f->kind) {
	case GK_STRING:
		return json_is_string(v) ? 0 : type_error(v, st, path, "string", err, errlen);
	case GK_MAP_ANY:
		return json_is_object(v) ? 0 : type_error(v, st, path, f->gotype, err, errlen);
	case GK_MAP_BOOL:
		if (!json_is_object(v))
			return type_error(v, st, path, f->gotype, err, errlen);
		json_object_foreach((json_t *)v, k, m)
			if (!json_is_boolean(m) && !json_is_null(m))
				return type_error(m, st, path, "bool", err, errlen);
		return 0;
	case GK_STRUCT:
		if (!json_is_object(v))
			return type_error(v, st, path, f->gotype, err, errlen);
		return check_struct(v, f->sub, st, path, err, errlen);
	case GK_STR_ARRAY:
		if (!json_is_array(v))
			return type_error(v, st, path, f->gotype, err, errlen);
		json_array_foreach((json_t *)v, i, m)
			if (!json_is_string(m) && !json_is_null(m))
				return type_error(m, st, path, "string", err, errlen);
		return 0;
	case GK_STRUCT_ARRAY:
		if (!json_is_array(v))
			return type_error(v, st, path, f->gotype, err, errlen);
		json_array_foreach((json_t *)v, i, m) {
			if (json_is_null(m))
				continue;
			if (!json_is_object(m))
				return type_error(m, st, path, f->elemtype, err, errlen);
			if (check_struct(m, f->sub, st, path, err, errlen) < 0)
				return -1;
		}
		return 0;
	}
	return 0;
}

static int check_member(const char *k, size_t klen, const json_t *v,
			const struct gofield *fields, const char *st, const char *prefix,
			char *err, size_t errlen)
{
	const struct gofield *f = field_find(fields, k, klen);
	char path[256];

	if (!f)
		return 0;
	snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", f->name);
	return check_field(v, f, st, path, err, errlen);
}

static int check_struct(const json_t *obj, const struct gofield *fields, const char *st,
			const char *prefix, char *err, size_t errlen)
{
	const char *k;
	size_t klen;
	json_t *v;

	json_object_keylen_foreach((json_t *)obj, k, klen, v)
		if (check_member(k, klen, v, fields, st, prefix, err, errlen) < 0)
			return -1;
	return 0;
}

/* Member i of a cni_json_parse_members list. */
static const char *member(const json_t *members, size_t i, size_t *klen, json_t **v)
{
	json_t *m = json_array_get(members, i), *k = json_array_get(m, 0);

	*klen = json_string_length(k);
	*v = json_array_get(m, 1);
	return json_string_value(k);
}

static bool member_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && strncasecmp(name, k, klen) == 0;
}

/*
 * Decode buf as Go decodes it into a struct: every member in document
 * order, repeated ones too.  The members in *members; NULL with err.
 */
static json_t *decode_struct(const char *buf, size_t len, const struct gofield *fields,
			     const char *st, const char *gotype, json_t **members, char *err,
			     size_t errlen)
{
	json_t *root, *v;
	const char *k;
	size_t klen;

	if (cni_json_parse_members(buf, len, &root, members, err, errlen) < 0)
		return NULL;
	if (!json_is_object(root) && !json_is_null(root)) {
		snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type %s",
			 cni_json_kind(root), gotype);
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(*members); i++) {
		k = member(*members, i, &klen, &v);
		if (check_member(k, klen, v, fields, st, "", err, errlen) < 0)
			goto fail;
	}
	return root;
fail:
	json_decref(root);
	json_decref(*members);
	*members = NULL;
	return NULL;
}

/* A string field: the last string member of that name; null leaves it alone. */
static const char *field_string(const json_t *members, const char *name, const char *def)
{
	const char *k, *val = def;
	size_t klen;
	json_t *v;

	for (size_t i = 0; i < json_array_size(members); i++) {
		k = member(members, i, &klen, &v);
		if (member_is(k, klen, name) && json_is_string(v))
			val = json_string_value(v);
	}
	return val;
}

/*
 * A map field: Go decodes every matching member into the same map, so
 * members merge; a null resets the map.  Returns a new object or NULL.
 */
static int field_map(const json_t *members, const char *name, json_t **out)
{
	const char *k;
	size_t klen;
	json_t *v;

	*out = NULL;
	for (size_t i = 0; i < json_array_size(members); i++) {
		k = member(members, i, &klen, &v);
		if (!member_is(k, klen, name))
			continue;
		if (json_is_null(v)) {
			json_decref(*out);
			*out = NULL;
			continue;
		}
		if (!*out && !(*out = json_object()))
			return -1;
		if (json_object_update(*out, v) < 0)
			return -1;
	}
	return 0;
}

void cni_netconf_free(struct cni_netconf *nc)
{
	json_decref(nc->root);
	json_decref(nc->members);
	json_decref(nc->delegate);
	json_decref(nc->ipam);
	json_decref(nc->runtime_config);
	memset(nc, 0, sizeof(*nc));
}

static int parse_wait(const char *s, int64_t *ms, char *err, size_t errlen)
{
	/* A duration: digits first, so that strtod never sees "nan" or "inf". */
	if (s[0] >= '0' && s[0] <= '9' && (*ms = duration_parse_ms(s)) >= 0)
		return 0;
	snprintf(err, errlen, "invalid subnetFileWait %.64s: want a duration such as 5s or 500ms",
		 s);
	return -1;
}

int cni_netconf_load(const char *buf, size_t len, struct cni_netconf *nc, char *err,
		     size_t errlen)
{
	const char *wait;
	json_t *m;

	memset(nc, 0, sizeof(*nc));
	nc->root = decode_struct(buf, len, netconf_fields, "NetConf", "main.NetConf", &m, err,
				 errlen);
	if (!nc->root)
		return -1;
	nc->members = m;
	nc->cni_version = field_string(m, "cniVersion", "");
	nc->name = field_string(m, "name", "");
	nc->subnet_file = field_string(m, "subnetFile", CNI_DEFAULT_SUBNET_FILE);
	nc->data_dir = field_string(m, "dataDir", CNI_DEFAULT_DATA_DIR);
	nc->wait_ms = CNI_DEFAULT_WAIT_MS;
	wait = field_string(m, "subnetFileWait", NULL);
	if (wait && parse_wait(wait, &nc->wait_ms, err, errlen) < 0)
		goto fail;
	if (field_map(m, "delegate", &nc->delegate) < 0 || field_map(m, "ipam", &nc->ipam) < 0 ||
	    field_map(m, "runtimeConfig", &nc->runtime_config) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return 0;
fail:
	cni_netconf_free(nc);
	return -1;
}

int cni_stored_conf_check(const char *buf, size_t len, const char **type, json_t **keep,
			  char *err, size_t errlen)
{
	json_t *m, *root;

	root = decode_struct(buf, len, pluginconf_fields, "PluginConf", "types.PluginConf", &m,
			     err, errlen);
	if (!root)
		return -1;
	json_decref(root);
	/* The members hold a reference to every value, the type string too. */
	*keep = m;
	*type = field_string(m, "type", "");
	return 0;
}

/* The skel decodes into an anonymous struct with one string field. */
static int conf_string(const char *buf, size_t len, const char *field, const char *gotype,
		       char *out, size_t outlen, char *err, size_t errlen)
{
	const struct gofield f[] = { { field, GK_STRING, "string", NULL, NULL },
				     { NULL, 0, NULL, NULL, NULL } };
	json_t *m, *root = decode_struct(buf, len, f, "", gotype, &m, err, errlen);

	if (!root)
		return -1;
	snprintf(out, outlen, "%s", field_string(m, field, ""));
	json_decref(m);
	json_decref(root);
	return 0;
}

int cni_conf_name(const char *buf, size_t len, char *name, size_t namelen, char *err,
		  size_t errlen)
{
	return conf_string(buf, len, "name", "struct { Name string \"json:\\\"name\\\"\" }", name,
			   namelen, err, errlen);
}

int cni_conf_version(const char *buf, size_t len, char *ver, size_t verlen, char *err,
		     size_t errlen)
{
	return conf_string(buf, len, "cniVersion",
			   "struct { CNIVersion string \"json:\\\"cniVersion\\\"\" }", ver, verlen,
			   err, errlen);
}

/* ---- the delegate ------------------------------------------------------ */

static json_t *prefix_string(const struct prefix *p)
{
	char buf[ADDR_STRLEN + 8];

	return json_string(prefix_format(p, buf, sizeof(buf)));
}

/* {"subnet": p} wrapped as one range set: [[{"subnet": p}]] element. */
static int add_range(json_t *ranges, const struct prefix *p)
{
	json_t *set = json_array(), *r = json_object();

	if (!set || !r || json_object_set_new(r, "subnet", prefix_string(p)) < 0 ||
	    json_array_append_new(set, r) < 0) {
		json_decref(set);
		json_decref(r);
		return -1;
	}
	return json_array_append_new(ranges, set);
}

static int route_error(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errlen, fmt, a, b);
	return -1;
}

/* A route int field (mtu, advmss, priority, table, scope): Go's int. */
static int route_int(json_t *v, const char *field, json_t **out, char *err, size_t errlen)
{
	char num[48];
	double d;

	if (!json_is_number(v))
		return route_error(err, errlen,
				   "json: cannot unmarshal %s into Go struct field route.%s of type int",
				   cni_json_kind(v), field);
	d = json_number_value(v);
	if (d != floor(d) || fabs(d) >= 9223372036854775808.0) {
		cni_json_float(d, num, sizeof(num));
		snprintf(err, errlen,
			 "json: cannot unmarshal number %s into Go struct field route.%s of type int",
			 num, field);
		return -1;
	}
	*out = json_integer((json_int_t)d);
	return 0;
}

static int route_dst(json_t *v, json_t **out, char *err, size_t errlen)
{
	struct prefix p;
	const char *s = "";
	size_t n = 0;

	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
	} else if (!json_is_null(v)) {
		return route_error(err, errlen,
				   "json: cannot unmarshal %s into Go struct field route.%s of type string",
				   cni_json_kind(v), "dst");
	}
	if (cni_cidr_parse(s, n, false, &p) < 0) {
		snprintf(err, errlen, "invalid CIDR address: %.*s", (int)(n > 512 ? 512 : n), s);
		return -1;
	}
	*out = prefix_string(&p);
	return 0;
}

static int route_gw(json_t *v, json_t **out, char *err, size_t errlen)
{
	struct ipaddr a;
	char buf[ADDR_STRLEN];

	if (json_is_null(v) || (json_is_string(v) && !json_string_length(v))) {
		*out = json_null(); /* a nil net.IP: omitted */
		return 0;
	}
	if (!json_is_string(v))
		return route_error(err, errlen,
				   "json: cannot unmarshal %s into Go struct field route.%s of type net.IP",
				   cni_json_kind(v), "gw");
	if (strlen(json_string_value(v)) != json_string_length(v) ||
	    addr_parse(json_string_value(v), &a) < 0) {
		snprintf(err, errlen, "invalid IP address: %.512s", json_string_value(v));
		return -1;
	}
	*out = json_string(addr_format(&a, buf, sizeof(buf)));
	return 0;
}

static const char *const route_keys[] = { "dst", "gw", "mtu", "advmss", "priority", "table",
					  "scope" };

/* Decode one member into slot k of vals (new references). */
static int route_member(int k, json_t *v, json_t **vals, char *err, size_t errlen)
{
	json_t *nv = NULL;
	int rc;

	if (k >= 2 && json_is_null(v)) {
		/* null leaves an int alone and resets a *int (table, scope). */
		if (k >= 5) {
			json_decref(vals[k]);
			vals[k] = NULL;
		}
		return 0;
	}
	if (k == 0)
		rc = route_dst(v, &nv, err, errlen);
	else if (k == 1)
		rc = route_gw(v, &nv, err, errlen);
	else
		rc = route_int(v, route_keys[k], &nv, err, errlen);
	if (rc < 0)
		return -1;
	if (!nv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_decref(vals[k]);
	vals[k] = nv;
	return 0;
}

/*
 * One element of ipam.routes, as types.Route decodes it after upstream
 * re-encoded the list (so members come in sorted order) and encodes it
 * again: dst, gw, mtu, advmss, priority, table, scope; zero values omitted.
 */
static json_t *route_decode(json_t *in, char *err, size_t errlen)
{
	json_t *vals[7] = { 0 }, *out = NULL;
	char *sorted = NULL;
	json_t *obj = NULL;

	if (!json_is_object(in) && !json_is_null(in)) {
		snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type types.route",
			 cni_json_kind(in));
		return NULL;
	}
	/* Walk the members in Go's (sorted) order: the first error is Go's. */
	if (json_is_object(in) && (!(sorted = cni_json_dump(in, CJ_SORT, NULL)) ||
				   cni_json_parse(sorted, strlen(sorted), &obj, err, errlen) < 0))
		goto out;
	if (obj) {
		const char *k;
		size_t klen;
		json_t *v;

		json_object_keylen_foreach(obj, k, klen, v) {
			for (int i = 0; i < 7; i++)
				if (strlen(route_keys[i]) == klen &&
				    strncasecmp(route_keys[i], k, klen) == 0 &&
				    route_member(i, v, vals, err, errlen) < 0)
					goto out;
		}
	}
	out = json_object();
	/* dst has no omitempty: a missing one prints as Go's "<nil>". */
	if (!out || json_object_set_new(out, "dst", vals[0] ? json_incref(vals[0]) :
							      json_string("<nil>")) < 0)
		goto oom;
	for (int i = 1; i < 7; i++) {
		if (!vals[i] || json_is_null(vals[i]) ||
		    (i >= 2 && i <= 4 && json_integer_value(vals[i]) == 0))
			continue;
		if (json_object_set(out, route_keys[i], vals[i]) < 0)
			goto oom;
	}
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	json_decref(out);
	out = NULL;
out:
	for (int i = 0; i < 7; i++)
		json_decref(vals[i]);
	json_decref(obj);
	free(sorted);
	return out;
}

static int user_routes(const json_t *ipam, json_t *routes, char *err, size_t errlen)
{
	char why[1024] = "out of memory";
	json_t *list = ipam ? json_object_get(ipam, "routes") : NULL;
	size_t i;
	json_t *r;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list)) {
		snprintf(why, sizeof(why), "json: cannot unmarshal %s into Go value of type []types.Route",
			 cni_json_kind(list));
		goto fail;
	}
	json_array_foreach(list, i, r) {
		json_t *rt = route_decode(r, why, sizeof(why));

		if (!rt || json_array_append_new(routes, rt) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "failed to read IPAM routes: failed to parse ipam.routes: %s", why);
	return -1;
}

static int add_net_routes(json_t *routes, const struct prefix *nets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_object();

		if (!r || json_object_set_new(r, "dst", prefix_string(&nets[i])) < 0 ||
		    json_array_append_new(routes, r) < 0) {
			json_decref(r);
			return -1;
		}
	}
	return 0;
}

json_t *cni_delegate_ipam(const struct cni_netconf *nc, const struct cni_env *env, char *err,
			  size_t errlen)
{
	json_t *ipam = nc->ipam ? json_deep_copy(nc->ipam) : json_object();
	json_t *ranges = json_array(), *routes = json_array();

	snprintf(err, errlen, "out of memory");
	if (!ipam || !ranges || !routes)
		goto fail;
	if (!json_object_get(ipam, "type") &&
	    json_object_set_new(ipam, "type", json_string("host-local")) < 0)
		goto fail;
	if ((env->sn.addr.family && add_range(ranges, &env->sn) < 0) ||
	    (env->sn6.addr.family && add_range(ranges, &env->sn6) < 0))
		goto fail;
	if (user_routes(nc->ipam, routes, err, errlen) < 0)
		goto fail;
	if (add_net_routes(routes, env->nets, env->n_nets) < 0 ||
	    add_net_routes(routes, env->nets6, env->n_nets6) < 0)
		goto fail;
	if (json_object_set_new(ipam, "ranges", ranges) < 0) {
		ranges = NULL;
		goto fail;
	}
	if (json_object_set_new(ipam, "routes", routes) < 0) {
		json_decref(ipam);
		return NULL;
	}
	return ipam;
fail:
	json_decref(ipam);
	json_decref(ranges);
	json_decref(routes);
	return NULL;
}

/* cmdAdd's checks of the user's delegate, in upstream's order. */
static int delegate_check(const json_t *d, char *err, size_t errlen)
{
	json_t *t = json_object_get(d, "type");

	if (t && !json_is_string(t))
		snprintf(err, errlen, "'delegate' dictionary, if present, must have (string) 'type' field");
	else if (json_object_get(d, "name"))
		snprintf(err, errlen, "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
	else if (json_object_get(d, "ipam"))
		snprintf(err, errlen, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
	else
		return 0;
	return -1;
}

static int set_default(json_t *d, const char *key, json_t *v)
{
	if (!v)
		return -1;
	if (json_object_get(d, key)) {
		json_decref(v);
		return 0;
	}
	return json_object_set_new(d, key, v);
}

static int build_linux(json_t *d, const struct cni_netconf *nc, const struct cni_env *env,
		       char *err, size_t errlen)
{
	json_t *ipam;
	const char *type;

	if (set_default(d, "type", json_string("bridge")) < 0 ||
	    set_default(d, "ipMasq", json_boolean(!env->ipmasq)) < 0 ||
	    set_default(d, "mtu", json_integer(env->mtu)) < 0)
		return -1;
	type = json_string_value(json_object_get(d, "type"));
	if (type && strcmp(type, "bridge") == 0 &&
	    set_default(d, "isGateway", json_true()) < 0)
		return -1;
	if (nc->cni_version[0] &&
	    json_object_set_new(d, "cniVersion", json_string(nc->cni_version)) < 0)
		return -1;
	ipam = cni_delegate_ipam(nc, env, err, errlen);
	if (!ipam) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "failed to assemble Delegate IPAM: %s", why);
		return -2;
	}
	return json_object_set_new(d, "ipam", ipam);
}

/* flannel_windows.go: the Windows plugin does the NAT itself. */
static int build_windows(json_t *d, const struct cni_netconf *nc, const struct cni_env *env,
			 char *err, size_t errlen)
{
	json_t *ipam;

	if (!env->n_nets || !env->sn.addr.family) {
		snprintf(err, errlen, "Windows delegates need FLANNEL_NETWORK and FLANNEL_SUBNET");
		return -2;
	}
	ipam = json_object();
	if (!ipam || json_object_set_new(ipam, "type", json_string("host-local")) < 0 ||
	    json_object_set_new(ipam, "subnet", prefix_string(&env->sn)) < 0) {
		json_decref(ipam);
		return -1;
	}
	if (json_object_set_new(d, "ipam", ipam) < 0 ||
	    set_default(d, "type", json_string("win-bridge")) < 0 ||
	    json_object_set_new(d, "ipMasq", json_boolean(env->ipmasq)) < 0 ||
	    json_object_set_new(d, "ipMasqNetwork", prefix_string(&env->nets[0])) < 0 ||
	    json_object_set_new(d, "cniVersion",
				json_string(nc->cni_version[0] ? nc->cni_version : "0.2.0")) < 0)
		return -1;
	return 0;
}

json_t *cni_delegate_build(const struct cni_netconf *nc, const struct cni_env *env,
			   enum cni_os os, char *err, size_t errlen)
{
	json_t *d = nc->delegate ? json_deep_copy(nc->delegate) : json_object();
	int rc;

	if (!d)
		goto oom;
	if (nc->delegate && delegate_check(d, err, errlen) < 0)
		goto fail;
	if (nc->runtime_config &&
	    json_object_set_new(d, "runtimeConfig", json_deep_copy(nc->runtime_config)) < 0)
		goto oom;
	if (json_object_set_new(d, "name", json_string(nc->name)) < 0)
		goto oom;
	rc = os == CNI_OS_WINDOWS ? build_windows(d, nc, env, err, errlen) :
				    build_linux(d, nc, env, err, errlen);
	if (rc == -2)
		goto fail;
	if (rc < 0)
		goto oom;
	return d;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(d);
	return NULL;
}
