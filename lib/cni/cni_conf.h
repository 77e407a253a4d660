/* cni_conf.h - the flannel CNI network config and the delegate config it
 * generates (upstream flannel-io/cni-plugin flannel.go, flannel_linux.go,
 * flannel_windows.go). */
#ifndef FLANNEL_CNI_CONF_H
#define FLANNEL_CNI_CONF_H

#include <jansson.h>
#include <stdint.h>

#include "cni/cni_env.h"

#define CNI_DEFAULT_SUBNET_FILE "/run/flannel/subnet.env"
#define CNI_DEFAULT_DATA_DIR "/var/lib/cni/flannel"
/* Our extension: how long ADD waits for a subnet.env flanneld has not written yet. */
#define CNI_DEFAULT_WAIT_MS 5000

struct cni_netconf {
	json_t *root;        /* the whole config as parsed */
	json_t *members;     /* its members in order, repeats kept ([key, value]) */
	const char *cni_version; /* "" when absent; points into root */
	const char *name;
	const char *subnet_file;
	const char *data_dir;
	int64_t wait_ms;     /* "subnetFileWait" */
	json_t *delegate;    /* owned, NULL when absent or null */
	json_t *ipam;
	json_t *runtime_config;
};

enum cni_os { CNI_OS_LINUX, CNI_OS_WINDOWS };

/*
 * Decode a config as Go decodes it into flannel's NetConf (keys matched
 * without regard to case, wrong types refused).  -1 with err in upstream's
 * words without prefix ("json: cannot unmarshal number into Go struct field
 * NetConf.subnetFile of type string").
 */
int cni_netconf_load(const char *buf, size_t len, struct cni_netconf *nc, char *err,
		     size_t errlen);
void cni_netconf_free(struct cni_netconf *nc);

/* The stored delegate config decoded as types.NetConf (for DEL): 0 with
 * *type valid until *keep is released, or -1 with err. */
int cni_stored_conf_check(const char *buf, size_t len, const char **type, json_t **keep,
			  char *err, size_t errlen);

/* The skel's own checks: a JSON object with a valid "name" (code 6 or 7),
 * and "cniVersion" ("" when absent; code 6 when not a string). */
int cni_conf_name(const char *buf, size_t len, char *name, size_t namelen, char *err,
		  size_t errlen);
int cni_conf_version(const char *buf, size_t len, char *ver, size_t verlen, char *err,
		     size_t errlen);

/*
 * Build the delegate config for ADD: checks, runtimeConfig, defaults and
 * the host-local ipam (Linux) or the Windows rules.  New reference, or NULL
 * with err (upstream's message).
 */
json_t *cni_delegate_build(const struct cni_netconf *nc, const struct cni_env *env,
			   enum cni_os os, char *err, size_t errlen);
/* getDelegateIPAM alone (Linux). */
json_t *cni_delegate_ipam(const struct cni_netconf *nc, const struct cni_env *env, char *err,
			  size_t errlen);

#endif
