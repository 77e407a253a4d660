/* The etcd watch stream: JSON lines with base64 keys and values, errors,
 * progress notices, compaction and cancellation, through its own line
 * parser (etcd_watch_feed), each event's key through the lease key parser. */
#include "etcd/etcd_call.h"
#include "fuzz.h"
#include "model/subnet.h"

static struct etcd *e;

static int on_event(void *arg, const struct etcd_watch_event *ev)
{
	struct prefix v4, v6;

	(void)arg;
	if (ev->type == EW_PUT || ev->type == EW_DELETE) {
		FUZZ_ASSERT(ev->kv.key || !ev->kv.key_len);
		if (ev->kv.key)
			(void)subnet_key_of("/coreos.com/network/subnets/", ev->kv.key,
					    ev->kv.key_len, &v4, &v6);
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct etcd_opts o = { .endpoints = "http://127.0.0.1:1" };
	char err[256];

	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	if (etcd_open(&o, &e, err, sizeof(err)) != ETCD_OK)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)etcd_watch_feed(e, on_event, NULL, (const char *)data, size);
	return 0;
}
