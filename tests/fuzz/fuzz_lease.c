/* A lease as etcd holds it: the key's leaf (up to the first newline, NULs
 * and all) and the value (the rest).  Invariants: an accepted key is
 * exactly the canonical one; an accepted, valid value formats to upstream's
 * bytes that parse back to the same lease. */
#include "fuzz.h"
#include "model/lease.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl = memchr(in, '\n', size);
	size_t klen = nl ? (size_t)(nl - in) : size;
	char err[256], canon[KEY_STRLEN];
	struct lease l, back;
	char *val;

	lease_init(&l);
	if (subnet_key_parse_n(in, klen, &l.subnet, &l.subnet6) < 0) {
		/* Keys in the corpus stay useful for the value. */
		if (prefix_parse("100.64.5.0/24", &l.subnet) < 0)
			abort();
	} else {
		FUZZ_ASSERT(subnet_key_format(&l.subnet, &l.subnet6, canon, sizeof(canon)) == 0);
		FUZZ_ASSERT(strlen(canon) == klen && memcmp(canon, in, klen) == 0);
	}
	if (!nl)
		return 0;
	if (lease_parse_value(&l, nl + 1, size - klen - 1, err, sizeof(err)) < 0 ||
	    lease_validate(&l, err, sizeof(err)) < 0) {
		lease_clear(&l);
		return 0;
	}
	val = lease_format_value(&l);
	FUZZ_ASSERT(val);
	lease_init(&back);
	back.subnet = l.subnet;
	back.subnet6 = l.subnet6;
	FUZZ_ASSERT(lease_parse_value(&back, val, strlen(val), err, sizeof(err)) == 0);
	FUZZ_ASSERT(addr_equal(&back.public_ip, &l.public_ip));
	FUZZ_ASSERT(strcmp(back.backend_type, l.backend_type) == 0);
	free(val);
	lease_clear(&back);
	lease_clear(&l);
	return 0;
}
