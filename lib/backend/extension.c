/* extension.c - the extension backend: operator commands instead of a
 * data path (flannel-ext).  Its Backend keys are the four commands; its
 * lease's BackendData is PreStartupCommand's output; the underlay's MTU. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/extension.h"

int ext_config_from_net(struct ext_config *c, const struct net_config *net, char *err,
			size_t errlen)
{
	if (strcmp(net->backend_type, "extension") != 0) {
		snprintf(err, errlen, "Backend.Type is \"%s\", not \"extension\"",
			 net->backend_type);
		return -1;
	}
	for (int k = 0; k < EXT_NCMD; k++) {
		const char *key = ext_cmd_key((enum ext_cmd)k);
		json_t *v = config_backend_get(net, key);

		if (!v || json_is_null(v) || c->cmd[k])
			continue;
		if (!json_is_string(v)) {
			snprintf(err, errlen, "Backend.%s is not a string", key);
			return -1;
		}
		if (ext_config_set(c, (enum ext_cmd)k, json_string_value(v)) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int extension_check(const struct net_config *c, char *err, size_t errlen)
{
	struct ext_config ec;
	int rc;

	ext_config_init(&ec);
	rc = ext_config_from_net(&ec, c, err, errlen);
	ext_config_clear(&ec);
	return rc;
}

const struct backend backend_extension = {
	.name = "extension",
	.about = "shell commands per lease (PreStartup, PostStartup, SubnetAdd, SubnetRemove)",
	.lease_type = "extension",
	.tool = "flannel-ext",
	.step_cmd = { [BACKEND_INIT] = "pre-startup", [BACKEND_POST] = "post-startup",
		      [BACKEND_APPLY] = "apply" },
	.etcd = true,
	.ipv6 = true,
	.check = extension_check,
	.mtu = backend_mtu_underlay,
};
