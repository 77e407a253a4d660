/* The network config from etcd (<prefix>/config). */
#include "fuzz.h"
#include "model/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_config c;
	char err[256];

	config_init(&c);
	if (config_parse((const char *)data, size, &c, err, sizeof(err)) == 0) {
		/* What the appliers trust about an accepted config. */
		FUZZ_ASSERT(c.enable_ipv4 || c.enable_ipv6);
		FUZZ_ASSERT(!c.enable_ipv6 || !addr_is_v4_mapped(&c.network6.addr));
		(void)config_backend_get(&c, "VNI");
	}
	config_clear(&c);
	return 0;
}
