/* The CNI network config on the plugin's stdin: the skel's checks, the
 * NetConf decode, and the delegate config built from it. */
#include <jansson.h>

#include "cni/cni_conf.h"
#include "cni/cni_env.h"
#include "fuzz.h"

static struct cni_env env;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char text[] = "FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.5.1/24\n"
				   "FLANNEL_IPV6_NETWORK=2001:db8:1::/48\n"
				   "FLANNEL_IPV6_SUBNET=2001:db8:1:5::1/64\n"
				   "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
	char err[256];

	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	if (cni_env_parse(text, sizeof(text) - 1, "subnet.env", &env, err, sizeof(err)) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char err[1024], name[256], ver[256];
	struct cni_netconf nc;
	json_t *d;

	(void)cni_conf_name(in, size, name, sizeof(name), err, sizeof(err));
	(void)cni_conf_version(in, size, ver, sizeof(ver), err, sizeof(err));
	memset(&nc, 0, sizeof(nc));
	if (cni_netconf_load(in, size, &nc, err, sizeof(err)) < 0)
		return 0;
	for (int os = CNI_OS_LINUX; os <= CNI_OS_WINDOWS; os++) {
		d = cni_delegate_build(&nc, &env, (enum cni_os)os, err, sizeof(err));
		json_decref(d);
	}
	cni_netconf_free(&nc);
	return 0;
}
