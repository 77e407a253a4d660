/* cni_plugin.h - the flannel CNI plugin: the skel's checks and dispatch,
 * and the ADD, DEL, CHECK, VERSION, GC and STATUS handlers. */
#ifndef FLANNEL_CNI_PLUGIN_H
#define FLANNEL_CNI_PLUGIN_H

#include <stddef.h>

#include "cni/cni.h"
#include "cni/cni_conf.h"

/* What the runtime gave us; the cmd layer copies it from the environment. */
struct cni_call {
	const char *command, *containerid, *netns, *ifname, *args, *path, *netns_override;
	char *const *envp; /* passed on to the delegate */
	int stdin_fd;      /* read after the variables are checked; -1: use in */
	const char *in;
	size_t in_len;
	enum cni_os os;
};

struct cni_reply {
	char *out;     /* for stdout, may be NULL */
	char *errout;  /* the delegate's stderr, for ours; may be NULL */
	size_t out_len, err_len;
};

void cni_reply_free(struct cni_reply *r);

/*
 * Run one CNI command as upstream's plugin does.  0 with r filled, or -1
 * with e (the runtime gets cni_err_json(e) on stdout and exit status 1).
 * c->command must be non-empty (an empty one prints the about text).
 */
int cni_dispatch(const struct cni_call *c, struct cni_reply *r, struct cni_err *e);

/*
 * The delegate config ADD would send for config in (compact, keys sorted),
 * without storing or running anything.  NULL with e.
 */
char *cni_delegate_config(const char *in, size_t len, enum cni_os os, struct cni_err *e);

#endif
