/* cni_exec.h - finding a delegate plugin in CNI_PATH and running it with
 * an explicit argv (no shell), as the Go library's pkg/invoke does. */
#ifndef FLANNEL_CNI_EXEC_H
#define FLANNEL_CNI_EXEC_H

#include <stddef.h>

#include "cni/cni.h"

/*
 * The first <dir>/<name> that is a regular file (symlinks followed; the
 * execute bit is not checked, as upstream).  0 with *path malloc'd, or -1
 * with err ("failed to find plugin \"bridge\" in path [/opt/cni/bin]").
 */
int cni_find_plugin(const char *name, const char *cni_path, char **path, char *err,
		    size_t errlen);

struct cni_exec_out {
	char *out, *errout; /* the delegate's stdout and stderr, NUL-terminated */
	size_t out_len, err_len;
};

void cni_exec_out_free(struct cni_exec_out *o);

/*
 * Run path with stdin in, the environment envp with CNI_COMMAND replaced by
 * command.  0 when it exits 0.  -1 when it fails: e is the error object as
 * upstream builds it (the delegate's own JSON error, or "netplugin failed
 * ...").  -2 on a local failure (pipe, fork): e is code 999.
 */
int cni_exec_plugin(const char *path, const char *command, char *const envp[], const char *in,
		    size_t in_len, struct cni_exec_out *o, struct cni_err *e);

#endif
