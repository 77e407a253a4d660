/* cni_plugin.c - the flannel CNI plugin (upstream flannel.go and
 * flannel_linux.go over containernetworking/cni pkg/skel). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "cni/cni_exec.h"
#include "cni/cni_json.h"
#include "cni/cni_plugin.h"
#include "cni/cni_store.h"

#define STDIN_MAX (16u << 20)

enum { REQ_ADD = 1, REQ_CHECK = 2, REQ_DEL = 4, REQ_GC = 8, REQ_STATUS = 16 };

void cni_reply_free(struct cni_reply *r)
{
	free(r->out);
	free(r->errout);
	memset(r, 0, sizeof(*r));
}

static unsigned command_bit(const char *cmd)
{
	static const char *const names[] = { "ADD", "CHECK", "DEL", "GC", "STATUS" };

	for (unsigned i = 0; i < 5; i++)
		if (strcmp(cmd, names[i]) == 0)
			return 1u << i;
	return 0;
}

/* getCmdArgsFromEnv: missing variables together, validation failures at once. */
static int check_env(const struct cni_call *c, struct cni_err *e)
{
	const struct {
		const char *name, *val;
		unsigned req;
		int (*validate)(const char *, struct cni_err *);
	} vars[] = {
		{ "CNI_COMMAND", c->command, ~0u, NULL },
		{ "CNI_CONTAINERID", c->containerid, REQ_ADD | REQ_CHECK | REQ_DEL,
		  cni_check_container_id },
		{ "CNI_NETNS", c->netns, REQ_ADD | REQ_CHECK, NULL },
		{ "CNI_IFNAME", c->ifname, REQ_ADD | REQ_CHECK | REQ_DEL, cni_check_ifname },
		{ "CNI_ARGS", c->args, 0, NULL },
		{ "CNI_PATH", c->path, REQ_ADD | REQ_CHECK | REQ_DEL | REQ_GC | REQ_STATUS, NULL },
		{ "CNI_NETNS_OVERRIDE", c->netns_override, 0, NULL },
	};
	unsigned bit = command_bit(c->command ? c->command : "");
	char missing[256] = "";

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		bool req = (vars[i].req & bit) || i == 0;

		if (!vars[i].val || !*vars[i].val) {
			if (req)
				snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
					 "%s%s", *missing ? "," : "", vars[i].name);
		} else if (req && vars[i].validate && vars[i].validate(vars[i].val, e) < 0) {
			return -1;
		}
	}
	if (*missing)
		return cni_err_set(e, CNI_ERR_INVALID_ENV, NULL,
				   "required env variables [%s] missing", missing);
	return 0;
}

static int read_stdin(int fd, char **buf, size_t *len, struct cni_err *e)
{
	struct buf b = { 0 };
	char chunk[8192];
	ssize_t n;
	char why[128];

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > STDIN_MAX) {
			buf_free(&b);
			return cni_err_set(e, CNI_ERR_IO, NULL, "error reading from stdin: %s",
					   n < 0 ? cni_strerror(errno, why, sizeof(why)) :
						   "config too large");
		}
		buf_add(&b, chunk, (size_t)n);
	}
	*len = b.len;
	*buf = buf_take(&b);
	if (!*buf)
		return cni_err_set(e, CNI_ERR_IO, NULL, "error reading from stdin: out of memory");
	return 0;
}

/* validateConfig: a JSON object with a valid network name. */
static int validate_config(const char *in, size_t len, struct cni_err *e)
{
	char name[1024], err[1024];

	if (cni_conf_name(in, len, name, sizeof(name), err, sizeof(err)) < 0)
		return cni_err_set(e, CNI_ERR_DECODING, NULL, "error unmarshall network config: %s",
				   err);
	if (!*name)
		return cni_err_set(e, CNI_ERR_INVALID_CONFIG, NULL, "missing network name");
	if (!cni_valid_name(name))
		return cni_err_set(e, CNI_ERR_INVALID_CONFIG, name,
				   "invalid characters found in network name");
	return 0;
}

/* The config's cniVersion, "0.1.0" when absent (create.DecodeVersion). */
static int conf_version(const char *in, size_t len, char *ver, size_t vlen, struct cni_err *e)
{
	char err[1024];

	if (cni_conf_version(in, len, ver, vlen, err, sizeof(err)) < 0)
		return cni_err_set(e, CNI_ERR_DECODING, NULL,
				   "decoding version from network config: %s", err);
	if (!*ver)
		snprintf(ver, vlen, "0.1.0");
	return 0;
}

/* checkVersionAndCall's gate: the version must be one we support exactly. */
static int version_gate(const char *in, size_t len, struct cni_err *e)
{
	char ver[256], details[1024];

	if (conf_version(in, len, ver, sizeof(ver), e) < 0)
		return -1;
	if (cni_version_supported(ver))
		return 0;
	cni_version_details(ver, details, sizeof(details));
	return cni_err_set(e, CNI_ERR_INCOMPATIBLE, details, "incompatible CNI versions");
}

static int version_ge(const long long a[3], const long long b[3])
{
	for (int i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] > b[i];
	return 1;
}

/* CHECK, GC and STATUS: the config version must be at least min. */
static int min_version_gate(const char *in, size_t len, const char *min, const char *what,
			    struct cni_err *e)
{
	char ver[256], err[512];
	long long v[3], m[3], p[3];

	if (conf_version(in, len, ver, sizeof(ver), e) < 0)
		return -1;
	if (cni_version_parse(ver, v, err, sizeof(err)) < 0 ||
	    cni_version_parse(min, m, err, sizeof(err)) < 0)
		return cni_err_set(e, CNI_ERR_DECODING, NULL, "%s", err);
	if (!version_ge(v, m))
		return cni_err_set(e, CNI_ERR_INCOMPATIBLE, NULL, "config version does not allow %s",
				   what);
	for (size_t i = 0; cni_versions[i]; i++) {
		cni_version_parse(cni_versions[i], p, err, sizeof(err));
		if (version_ge(p, v))
			return version_gate(in, len, e);
	}
	return cni_err_set(e, CNI_ERR_INCOMPATIBLE, NULL, "plugin version does not allow %s", what);
}

/* ns.CheckNetNS: is CNI_NETNS the namespace we run in? Unopenable: no. */
static bool netns_is_ours(const char *netns)
{
	struct stat a, b;

	if (!netns || !*netns || stat(netns, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int netns_check(const struct cni_call *c, struct cni_err *e)
{
	const char *o = c->netns_override ? c->netns_override : "";

	if (strcasecmp(o, "true") == 0 || strcmp(o, "1") == 0 || !netns_is_ours(c->netns))
		return 0;
	return cni_err_set(e, CNI_ERR_INVALID_NETNS, NULL,
			   "plugin's netns and netns from CNI_NETNS should not be the same");
}

/* Load the config and subnet.env and build the delegate's bytes. */
static char *build_delegate(const char *in, size_t len, enum cni_os os, char **data_dir,
			    char **type, struct cni_err *e)
{
	struct cni_netconf nc;
	struct cni_env env;
	char err[2048];
	json_t *d = NULL;
	char *bytes = NULL;

	if (cni_netconf_load(in, len, &nc, err, sizeof(err)) < 0)
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL,
				   "failed to load flannel netconf file: failed to load netconf: %s",
				   err), NULL;
	if (cni_env_load(nc.subnet_file, nc.wait_ms, &env, err, sizeof(err)) < 0) {
		cni_err_set(e, CNI_ERR_INTERNAL, NULL,
			    "failed to load flannel 'subnet.env' file: %s. "
			    "Check the flannel pod log for this node.", err);
		goto out;
	}
	d = cni_delegate_build(&nc, &env, os, err, sizeof(err));
	cni_env_free(&env);
	if (!d) {
		cni_err_set(e, CNI_ERR_INTERNAL, NULL, "%s", err);
		goto out;
	}
	bytes = cni_json_dump(d, CJ_SORT, NULL);
	if (data_dir)
		*data_dir = fl_strdup(nc.data_dir);
	if (type)
		*type = fl_strdup(json_string_value(json_object_get(d, "type")));
	if (!bytes || (data_dir && !*data_dir) || (type && !*type)) {
		free(bytes);
		bytes = NULL;
		if (data_dir) {
			free(*data_dir);
			*data_dir = NULL;
		}
		if (type) {
			free(*type);
			*type = NULL;
		}
		cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
	}
out:
	json_decref(d);
	cni_netconf_free(&nc);
	return bytes;
}

char *cni_delegate_config(const char *in, size_t len, enum cni_os os, struct cni_err *e)
{
	return build_delegate(in, len, os, NULL, NULL, e);
}

/* Keep what Go's typed result keeps, in its field order. */
static int print_result(json_t *res, const char *ver, struct cni_reply *r, struct cni_err *e)
{
	static const char *const v1[] = { "cniVersion", "interfaces", "ips", "routes", "dns", NULL };
	static const char *const v0[] = { "cniVersion", "ip4", "ip6", "dns", NULL };
	const char *const *keys = ver[0] == '0' && ver[2] < '3' ? v0 : v1;
	json_t *o = json_object(), *v;

	if (!o)
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
	for (size_t i = 0; keys[i]; i++) {
		v = json_object_get(res, keys[i]);
		if (!v || json_is_null(v) || (i > 0 && json_is_object(v) && !json_object_size(v)))
			continue;
		if (json_object_set(o, keys[i], v) < 0) {
			json_decref(o);
			return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
		}
	}
	r->out = cni_json_dump(o, CJ_INDENT, &r->out_len);
	json_decref(o);
	return r->out ? 0 : cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
}

/* fixupResultVersion + create.Create: the result in its own version. */
static int relay_result(const char *conf, const char *out, size_t len, struct cni_reply *r,
			struct cni_err *e)
{
	char err[1024], ver[256];
	json_t *res = NULL, *v;
	int rc;

	if (conf_version(conf, strlen(conf), ver, sizeof(ver), e) < 0)
		return -1;
	if (cni_json_parse(out, len, &res, err, sizeof(err)) < 0 ||
	    (!json_is_object(res) && !json_is_null(res))) {
		if (res)
			snprintf(err, sizeof(err),
				 "json: cannot unmarshal %s into Go value of type map[string]interface {}",
				 cni_json_kind(res));
		json_decref(res);
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL,
				   "failed to delegate add: failed to unmarshal raw result: %s", err);
	}
	if (json_is_null(res)) {
		json_decref(res);
		res = json_object();
	}
	v = json_object_get(res, "cniVersion");
	if (json_is_string(v) && json_string_length(v)) {
		snprintf(ver, sizeof(ver), "%s", json_string_value(v));
	} else if (!res || json_object_set_new(res, "cniVersion", json_string(ver)) < 0) {
		json_decref(res);
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
	}
	if (!cni_version_supported(ver)) {
		struct buf q = { 0 };

		cni_json_quote(&q, ver, strlen(ver));
		rc = cni_err_set(e, CNI_ERR_INTERNAL, NULL,
				 "failed to delegate add: unsupported CNI result version %s",
				 q.data ? q.data : "");
		buf_free(&q);
	} else {
		rc = print_result(res, ver, r, e);
	}
	json_decref(res);
	return rc;
}

/* Find and run the delegate; error objects from it pass through unchanged. */
static int delegate(const struct cni_call *c, const char *type, const char *cmd,
		    const char *conf, const char *prefix, struct cni_exec_out *o, struct cni_err *e)
{
	char err[sizeof(e->msg)], *path;
	int rc;

	if (cni_find_plugin(type, c->path, &path, err, sizeof(err)) < 0)
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "%s%s", prefix, err);
	rc = cni_exec_plugin(path, cmd, c->envp, conf, strlen(conf), o, e);
	free(path);
	if (rc == -2) {
		snprintf(err, sizeof(err), "%s", e->msg);
		cni_err_set(e, CNI_ERR_INTERNAL, NULL, "%s%s", prefix, err);
	}
	return rc < 0 ? -1 : 0;
}

static int cmd_add(const struct cni_call *c, const char *in, size_t len, struct cni_reply *r,
		   struct cni_err *e)
{
	char *dir = NULL, *type = NULL, *path = NULL, err[1024];
	char *conf = build_delegate(in, len, c->os, &dir, &type, e);
	struct cni_exec_out o = { 0 };
	int rc = -1;

	if (!conf)
		return -1;
	/* As upstream: runtimes log our stderr, operators look for this line. */
	log_notice("delegateAdd: netconf sent to delegate plugin: %s", conf);
	path = cni_store_path(dir, c->containerid);
	if (!path) {
		cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	/* Stored before the delegate runs: DEL must find it even if ADD fails. */
	if (cni_store_save(dir, path, conf, strlen(conf), err, sizeof(err)) < 0) {
		cni_err_set(e, CNI_ERR_INTERNAL, NULL, "%s", err);
		goto out;
	}
	if (delegate(c, type, "ADD", conf, "failed to delegate add: ", &o, e) < 0)
		goto out;
	rc = relay_result(conf, o.out, o.out_len, r, e);
	if (rc == 0 && o.err_len) {
		r->errout = o.errout;
		r->err_len = o.err_len;
		o.errout = NULL;
	}
out:
	cni_exec_out_free(&o);
	free(conf);
	free(dir);
	free(type);
	free(path);
	return rc;
}

/* DEL: run the delegate with exactly the stored bytes; no subnet.env. */
static int cmd_del(const struct cni_call *c, const char *in, size_t len, struct cni_err *e)
{
	struct cni_netconf nc;
	struct cni_exec_out o = { 0 };
	char err[2048], *path = NULL, *buf = NULL;
	const char *type;
	json_t *stored = NULL;
	size_t blen = 0;
	int rc = -1, st;

	if (cni_netconf_load(in, len, &nc, err, sizeof(err)) < 0)
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "failed to load netconf: %s", err);
	path = cni_store_path(nc.data_dir, c->containerid);
	if (!path) {
		cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	st = cni_store_read(path, &buf, &blen, err, sizeof(err));
	if (st != 0) {
		rc = st == 1 ? 0 : cni_err_set(e, CNI_ERR_INTERNAL, NULL, "%s", err);
		goto out;
	}
	if (cni_stored_conf_check(buf, blen, &type, &stored, err, sizeof(err)) < 0) {
		/* Upstream keeps going so that a torn file cannot block pod deletion. */
		log_warn("failed to parse netconf: %s", err);
		rc = 0;
		goto out;
	}
	if (strlen(buf) != blen) {
		log_warn("failed to parse netconf: %s holds a NUL byte", path);
		rc = 0;
		goto out;
	}
	if (delegate(c, type, "DEL", buf, "", &o, e) < 0)
		goto out;
	/* Only after the delegate let go: a failed DEL is retried with the file. */
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("remove %s: %s", path, cni_strerror(errno, err, sizeof(err)));
	rc = 0;
out:
	json_decref(stored);
	cni_exec_out_free(&o);
	cni_netconf_free(&nc);
	free(path);
	free(buf);
	return rc;
}

static int version_reply(struct cni_reply *r, struct cni_err *e)
{
	json_t *o = json_object(), *a = json_array();
	int bad = !o || !a;

	for (size_t i = 0; !bad && cni_versions[i]; i++)
		bad |= json_array_append_new(a, json_string(cni_versions[i]));
	bad |= json_object_set_new(o, "cniVersion", json_string(CNI_CURRENT_VERSION));
	bad |= json_object_set_new(o, "supportedVersions", a);
	if (!bad) {
		struct buf b = { 0 };
		char *s = cni_json_dump(o, 0, NULL);

		buf_str(&b, s ? s : "");
		buf_str(&b, "\n");
		free(s);
		r->out_len = b.len;
		r->out = s ? buf_take(&b) : (buf_free(&b), NULL);
	}
	json_decref(o);
	return r->out ? 0 : cni_err_set(e, CNI_ERR_IO, NULL, "out of memory");
}

static int run_command(const struct cni_call *c, const char *in, size_t len,
		       struct cni_reply *r, struct cni_err *e)
{
	const char *cmd = c->command;

	if (strcmp(cmd, "ADD") == 0) {
		if (version_gate(in, len, e) < 0 || netns_check(c, e) < 0)
			return -1;
		return cmd_add(c, in, len, r, e);
	}
	if (strcmp(cmd, "DEL") == 0) {
		if (version_gate(in, len, e) < 0 || cmd_del(c, in, len, e) < 0)
			return -1;
		return netns_check(c, e);
	}
	if (strcmp(cmd, "CHECK") == 0)
		return min_version_gate(in, len, "0.4.0", "CHECK", e);
	if (strcmp(cmd, "GC") == 0 || strcmp(cmd, "STATUS") == 0)
		return min_version_gate(in, len, "1.1.0", cmd, e);
	return cni_err_set(e, CNI_ERR_INVALID_ENV, NULL, "unknown CNI_COMMAND: %s", cmd);
}

int cni_dispatch(const struct cni_call *c, struct cni_reply *r, struct cni_err *e)
{
	char *owned = NULL;
	const char *in = c->in ? c->in : "";
	size_t len = c->in_len;
	int rc;

	memset(r, 0, sizeof(*r));
	if (check_env(c, e) < 0)
		return -1;
	if (strcmp(c->command, "VERSION") == 0)
		return version_reply(r, e);
	if (c->stdin_fd >= 0) {
		if (read_stdin(c->stdin_fd, &owned, &len, e) < 0)
			return -1;
		in = owned;
	}
	rc = validate_config(in, len, e);
	if (rc == 0)
		rc = run_command(c, in, len, r, e);
	free(owned);
	return rc;
}
