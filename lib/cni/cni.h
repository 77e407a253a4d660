/* cni.h - the CNI protocol as the Go library (containernetworking/cni
 * v1.3.0 pkg/skel) speaks it: error objects, versions, argument checks. */
#ifndef FLANNEL_CNI_H
#define FLANNEL_CNI_H

#include <stdbool.h>
#include <stddef.h>

/* Well-known error codes (the CNI specification, Go library). */
enum {
	CNI_ERR_INCOMPATIBLE = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODING = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_INVALID_NETNS = 8,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_INTERNAL = 999,
};

#define CNI_CURRENT_VERSION "1.1.0"
extern const char *const cni_versions[]; /* NULL-terminated, oldest first */

struct cni_err {
	unsigned code;
	char msg[4096];
	char details[1024];
};

/* Set code and message (printf); details may be NULL. Returns -1. */
int cni_err_set(struct cni_err *e, unsigned code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* {"code":N,"msg":..,"details":..} indented by 4 as the Go library prints it. */
char *cni_err_json(const struct cni_err *e);

/* The CNI name rule ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (container IDs, network names). */
bool cni_valid_name(const char *s);
/* Container ID (code 4), interface name (code 4); 0 or -1 with e. */
int cni_check_container_id(const char *id, struct cni_err *e);
int cni_check_ifname(const char *name, struct cni_err *e);
bool cni_version_supported(const char *v);
/* Go's version.ParseVersion ("" is 0.1.0); -1 with a message in err. */
int cni_version_parse(const char *v, long long out[3], char *err, size_t errlen);
/* "config is \"0.5.0\", plugin supports [\"0.1.0\" ...]" */
void cni_version_details(const char *v, char *buf, size_t len);

#endif
