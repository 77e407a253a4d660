/* cni_exec.c - delegate lookup and execution (pkg/invoke: find.go,
 * raw_exec.go, args.go). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/spawn.h"
#include "cni/cni_env.h"
#include "cni/cni_exec.h"
#include "cni/cni_json.h"

/* A delegate that writes more than this is broken; the rest is discarded. */
#define OUT_MAX (16u << 20)
/* Upstream retries "text file busy" 6 times, one second apart. */
#define TXTBSY_TRIES 6

void cni_exec_out_free(struct cni_exec_out *o)
{
	free(o->out);
	free(o->errout);
	memset(o, 0, sizeof(*o));
}

/* filepath.Join(dir, name) for a name without slashes. */
static char *join(const char *dir, size_t dlen, const char *name)
{
	struct buf b = { 0 };

	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	buf_add(&b, dir, dlen);
	if (dlen && !(dlen == 1 && dir[0] == '/'))
		buf_add(&b, "/", 1);
	buf_str(&b, name);
	return buf_take(&b);
}

int cni_find_plugin(const char *name, const char *cni_path, char **path, char *err,
		    size_t errlen)
{
	struct buf list = { 0 }, q = { 0 };
	const char *p = cni_path ? cni_path : "";

	*path = NULL;
	if (!name || !*name)
		return snprintf(err, errlen, "no plugin name provided"), -1;
	if (strchr(name, '/'))
		return snprintf(err, errlen, "invalid plugin name: %s", name), -1;
	if (!*p)
		return snprintf(err, errlen, "no paths provided"), -1;
	for (;;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char *full = join(p, n, name);
		struct stat st;

		if (!full)
			goto oom;
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			*path = full;
			buf_free(&list);
			return 0;
		}
		free(full);
		buf_add(&list, list.len ? " " : "", list.len ? 1 : 0);
		buf_add(&list, p, n);
		if (!c)
			break;
		p = c + 1;
	}
	cni_json_quote(&q, name, strlen(name));
	if (list.failed || q.failed)
		goto oom;
	snprintf(err, errlen, "failed to find plugin %s in path [%s]", q.data, list.data ? list.data : "");
	buf_free(&list);
	buf_free(&q);
	return -1;
oom:
	buf_free(&list);
	buf_free(&q);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* The environment with CNI_COMMAND replaced; NULL on allocation failure. */
static char **delegate_env(char *const envp[], const char *command, char **cmdvar)
{
	size_t n = 0, k = 0;
	char **env;

	while (envp && envp[n])
		n++;
	env = fl_calloc(n + 2, sizeof(*env));
	*cmdvar = env ? fl_malloc(strlen(command) + sizeof("CNI_COMMAND=")) : NULL;
	if (!env || !*cmdvar) {
		free(env);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "CNI_COMMAND=", 12) != 0)
			env[k++] = envp[i];
	snprintf(*cmdvar, strlen(command) + sizeof("CNI_COMMAND="), "CNI_COMMAND=%s", command);
	env[k] = *cmdvar;
	return env;
}

/* Go's ProcessState text: "exit status 1", "signal: killed". */
static void wait_text(int status, char *buf, size_t len)
{
	char sig[64];

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
		return;
	}
	snprintf(sig, sizeof(sig), "%s", strsignal(WTERMSIG(status)));
	if (sig[0] >= 'A' && sig[0] <= 'Z')
		sig[0] = (char)(sig[0] - 'A' + 'a');
	snprintf(buf, len, "signal: %s%s", sig, WCOREDUMP(status) ? " (core dumped)" : "");
}

/* pluginErr: the delegate's error object, or a description of its failure. */
static void plugin_err(const char *why, const struct buf *out, const struct buf *err,
		       struct cni_err *e)
{
	char perr[512];
	json_t *o = NULL, *v;
	struct buf q = { 0 };

	cni_err_set(e, 0, NULL, "%s", "");
	if (!out->len) {
		if (!err->len) {
			cni_err_set(e, 0, NULL, "netplugin failed with no error message: %s", why);
			return;
		}
		cni_json_quote(&q, err->data, err->len);
		cni_err_set(e, 0, NULL, "netplugin failed: %s", q.data ? q.data : "");
		buf_free(&q);
		return;
	}
	if (cni_json_parse(out->data, out->len, &o, perr, sizeof(perr)) < 0 ||
	    (!json_is_object(o) && !json_is_null(o))) {
		if (o)
			snprintf(perr, sizeof(perr),
				 "json: cannot unmarshal %s into Go value of type types.Error",
				 cni_json_kind(o));
		cni_json_quote(&q, out->data, out->len);
		cni_err_set(e, 0, NULL,
			    "netplugin failed but error parsing its diagnostic message %s: %s",
			    q.data ? q.data : "", perr);
		buf_free(&q);
		json_decref(o);
		return;
	}
	v = json_object_get(o, "code");
	if (json_is_number(v) && json_number_value(v) >= 0)
		e->code = (unsigned)json_number_value(v);
	if (json_is_string(v = json_object_get(o, "msg")))
		snprintf(e->msg, sizeof(e->msg), "%s", json_string_value(v));
	if (json_is_string(v = json_object_get(o, "details")))
		snprintf(e->details, sizeof(e->details), "%s", json_string_value(v));
	json_decref(o);
}

static int run(const char *path, char **env, const char *in, size_t in_len,
	       struct buf *out, struct buf *err, struct cni_err *e)
{
	char *argv[] = { (char *)path, NULL };
	struct spawn_wait w = { .out = { NULL, out, err }, .until_eof = true };
	struct spawn sp;
	int xe = 0, rc;
	char why[512], os[128];

	for (int tries = 0; tries < TXTBSY_TRIES; tries++) {
		spawn_init(&sp, path, argv);
		sp.envp = env;
		sp.in = in ? in : "";
		sp.in_len = in_len;
		sp.fd[1] = sp.fd[2] = SPAWN_PIPE;
		rc = spawn_start(&sp);
		if (rc == -1)
			return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "fork/exec %s: %s", path,
					   cni_strerror(errno, os, sizeof(os))), -2;
		xe = rc == SPAWN_EXEC_FAILED ? errno : 0;
		if (xe != ETXTBSY)
			break;
		sleep(1);
	}
	if (!xe)
		spawn_wait(&sp, &w);
	if (out->failed || err->failed)
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory"), -2;
	if (xe) {
		snprintf(why, sizeof(why), "fork/exec %s: %s", path, cni_strerror(xe, os, sizeof(os)));
		buf_free(out);
		buf_free(err);
	} else if (WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0) {
		return 0;
	} else {
		wait_text(w.status, why, sizeof(why));
	}
	plugin_err(why, out, err, e);
	return -1;
}

int cni_exec_plugin(const char *path, const char *command, char *const envp[], const char *in,
		    size_t in_len, struct cni_exec_out *o, struct cni_err *e)
{
	struct buf out = { .max = OUT_MAX }, err = { .max = OUT_MAX };
	char *cmdvar = NULL, **env = delegate_env(envp, command, &cmdvar);
	int rc;

	memset(o, 0, sizeof(*o));
	if (!env)
		return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory"), -2;
	rc = run(path, env, in, in_len, &out, &err, e);
	free(env);
	free(cmdvar);
	if (rc == 0) {
		o->out_len = out.len;
		o->err_len = err.len;
		o->out = buf_take(&out);
		o->errout = buf_take(&err);
		if (!o->out || !o->errout) {
			cni_exec_out_free(o);
			return cni_err_set(e, CNI_ERR_INTERNAL, NULL, "out of memory"), -2;
		}
	}
	buf_free(&out);
	buf_free(&err);
	return rc;
}
