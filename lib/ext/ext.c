/* ext.c - the extension backend's hooks: their names, the environment and stdin of
 * their commands, and how their results are logged. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/mem.h"
#include "ext/ext.h"

static const char *const cmd_keys[EXT_NCMD] = {
	[EXT_PRE_STARTUP] = "PreStartupCommand",
	[EXT_POST_STARTUP] = "PostStartupCommand",
	[EXT_SUBNET_ADD] = "SubnetAddCommand",
	[EXT_SUBNET_REMOVE] = "SubnetRemoveCommand",
};

static const char *const var_names[EXT_NVAR] = {
	[EXT_VAR_NETWORK] = "NETWORK",
	[EXT_VAR_SUBNET] = "SUBNET",
	[EXT_VAR_IPV6SUBNET] = "IPV6SUBNET",
	[EXT_VAR_PUBLIC_IP] = "PUBLIC_IP",
	[EXT_VAR_PUBLIC_IPV6] = "PUBLIC_IPV6",
};

const char *ext_cmd_key(enum ext_cmd c)
{
	return c < EXT_NCMD ? cmd_keys[c] : "?";
}

const char *ext_var_name(enum ext_var v)
{
	return v < EXT_NVAR ? var_names[v] : "?";
}

void ext_config_init(struct ext_config *c)
{
	memset(c, 0, sizeof(*c));
}

void ext_config_clear(struct ext_config *c)
{
	for (int i = 0; i < EXT_NCMD; i++)
		free(c->cmd[i]);
	ext_config_init(c);
}

int ext_config_set(struct ext_config *c, enum ext_cmd k, const char *cmd)
{
	char *d = fl_strdup(cmd);

	if (!d)
		return -1;
	free(c->cmd[k]);
	c->cmd[k] = d;
	return 0;
}

void ext_host_from_lease(struct ext_host *h, const struct lease *l)
{
	memset(h, 0, sizeof(*h));
	h->subnet = l->subnet;
	h->subnet6 = l->subnet6;
	h->public_ip = l->public_ip;
	h->public_ip6 = l->public_ip6;
}

static void fmt_prefix(const struct prefix *p, char *buf)
{
	buf[0] = '\0';
	if (addr_is_set(&p->addr))
		prefix_format(p, buf, ADDR_STRLEN);
}

static void fmt_addr(const struct ipaddr *a, char *buf)
{
	static const uint8_t zero[16];

	buf[0] = '\0';
	/* 0.0.0.0 is how upstream writes "no IPv4 address". */
	if (addr_is_set(a) && memcmp(a->b, zero, a->family == AF_INET ? 4 : 16) != 0)
		addr_format(a, buf, ADDR_STRLEN);
}

void ext_host_values(const struct ext_host *h, char vals[EXT_NVAR][ADDR_STRLEN])
{
	fmt_prefix(&h->network, vals[EXT_VAR_NETWORK]);
	fmt_prefix(&h->subnet, vals[EXT_VAR_SUBNET]);
	fmt_prefix(&h->subnet6, vals[EXT_VAR_IPV6SUBNET]);
	fmt_addr(&h->public_ip, vals[EXT_VAR_PUBLIC_IP]);
	fmt_addr(&h->public_ip6, vals[EXT_VAR_PUBLIC_IPV6]);
}

void ext_env_free(char **env)
{
	if (!env)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

/* One of ours: an inherited value must not stand in for a missing one. */
static bool is_ext_var(const char *entry)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);

	for (int v = 0; v < EXT_NVAR; v++)
		if (strlen(var_names[v]) == n && memcmp(entry, var_names[v], n) == 0)
			return true;
	return false;
}

static char *env_pair(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s = fl_malloc(n);

	if (s)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

static const char *env_get(char *const env[], const char *name, size_t n)
{
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i];
	return NULL;
}

char **ext_env_base(char *const env[], const char *pass)
{
	size_t n = 0, cap = 2;
	const char *p;
	char **out;

	for (p = pass; p && *p; p++)
		cap += *p == ',';
	cap += pass ? 1 : 0;
	out = fl_calloc(cap, sizeof(*out));
	if (!out)
		return NULL;
	p = env_get(env, "PATH", 4);
	if (!(out[n++] = fl_strdup(p ? p : "PATH=" EXT_DEFAULT_PATH)))
		goto fail;
	for (p = pass; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *e = len ? env_get(env, p, len) : NULL;

		/* PATH is there already; a lease variable is never inherited. */
		if (e && !(len == 4 && memcmp(p, "PATH", 4) == 0) && !is_ext_var(e) &&
		    !(out[n++] = fl_strdup(e)))
			goto fail;
		p += len + (p[len] == ',');
	}
	return out;
fail:
	ext_env_free(out);
	return NULL;
}

char **ext_env_build(char *const base[], const struct ext_host *h, bool with_network)
{
	char vals[EXT_NVAR][ADDR_STRLEN];
	size_t nbase = 0, n = 0;
	char **env;

	while (base && base[nbase])
		nbase++;
	env = fl_calloc(nbase + EXT_NVAR + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < nbase; i++) {
		if (is_ext_var(base[i]))
			continue;
		if (!(env[n++] = fl_strdup(base[i])))
			goto fail;
	}
	ext_host_values(h, vals);
	for (int v = with_network ? 0 : EXT_VAR_SUBNET; v < EXT_NVAR; v++)
		if (!(env[n++] = env_pair(var_names[v], vals[v])))
			goto fail;
	return env;
fail:
	ext_env_free(env);
	return NULL;
}

int ext_text_check(const char *s, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n' || ch == '\t')
			continue;
		if (ch < 0x20 || ch == 0x7f) {
			snprintf(err, errlen, "control character 0x%02x at byte %zu", ch, i);
			return -1;
		}
	}
	return 0;
}

char *ext_stdin_text(const json_t *data, size_t *len, char *err, size_t errlen)
{
	char *dump = NULL, *out = NULL;
	const char *s = "";
	size_t n = 0;

	if (data && json_is_string(data)) {
		s = json_string_value(data);
		n = json_string_length(data);
	} else if (data && !json_is_null(data)) {
		dump = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump)
			goto nomem;
		s = dump;
		n = strlen(dump);
	}
	if (ext_text_check(s, n, err, errlen) < 0)
		goto out;
	if (!(out = fl_malloc(n + 2)))
		goto nomem;
	memcpy(out, s, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	free(dump);
	return out;
}

json_t *ext_backend_data(const char *out, size_t len, char *err, size_t errlen)
{
	json_t *s;

	while (len && isspace((unsigned char)out[0])) {
		out++;
		len--;
	}
	while (len && isspace((unsigned char)out[len - 1]))
		len--;
	if (ext_text_check(out, len, err, errlen) < 0)
		return NULL;
	s = json_stringn(out, len);
	if (!s)
		snprintf(err, errlen, "output is not valid UTF-8");
	return s;
}

/* Output goes to the log one line at a time, control characters replaced. */
static void log_output(const char *what, const struct cmdrun_result *r, bool failed)
{
	const char *p = r->output, *end = r->output + r->output_len;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[512];
		size_t m = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

		for (size_t i = 0; i < m; i++)
			line[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
		line[m] = '\0';
		if (failed)
			log_warn("%s: output: %s%s", what, line, m < n ? "..." : "");
		else
			log_info("%s: output: %s%s", what, line, m < n ? "..." : "");
		p += n + 1;
	}
	if (r->truncated)
		log_warn("%s: output longer than %zu bytes, rest dropped", what, r->output_len);
}

void ext_log_result(const char *what, const struct cmdrun_result *r)
{
	char st[96];
	bool failed = !cmdrun_ok(r);

	cmdrun_describe(r, st, sizeof(st));
	if (failed)
		log_warn("run %s: %s (%lld ms)", what, st, (long long)r->elapsed_ms);
	else
		log_info("run %s: %s (%lld ms)", what, st, (long long)r->elapsed_ms);
	log_output(what, r, failed);
}
