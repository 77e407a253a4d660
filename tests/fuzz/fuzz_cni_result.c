/* What the CNI plugin reads back: a delegate's result (Go's JSON decode and
 * re-encode), and the delegate config it stored for DEL. */
#include <jansson.h>

#include "cni/cni_conf.h"
#include "cni/cni_json.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *type;
	char err[1024], *out;
	json_t *v = NULL, *keep = NULL;
	size_t len;

	if (cni_json_parse(in, size, &v, err, sizeof(err)) == 0) {
		out = cni_json_dump(v, 0, &len);
		FUZZ_ASSERT(out);
		json_decref(v);
		v = NULL;
		/* Our own output is JSON we read back. */
		FUZZ_ASSERT(cni_json_parse(out, len, &v, err, sizeof(err)) == 0);
		json_decref(v);
		free(out);
	}
	if (cni_stored_conf_check(in, size, &type, &keep, err, sizeof(err)) == 0)
		json_decref(keep);
	return 0;
}
