/* Event lines as the appliers read them.  Invariant: an accepted line
 * written back (event_to_json) parses again to the same type and subnets. */
#include <jansson.h>

#include "fuzz.h"
#include "model/event.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_str(data, size), *text = NULL, err[256];
	struct event ev, back;
	json_t *o;

	event_init(&ev);
	event_init(&back);
	if (event_parse(line, &ev, err, sizeof(err)) < 0)
		goto out;
	if (ev.type != EV_ADDED && ev.type != EV_REMOVED)
		goto out;
	o = event_to_json(&ev);
	FUZZ_ASSERT(o);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	FUZZ_ASSERT(text);
	FUZZ_ASSERT(event_parse(text, &back, err, sizeof(err)) == 0);
	FUZZ_ASSERT(back.type == ev.type);
	FUZZ_ASSERT(prefix_equal(&back.lease.subnet, &ev.lease.subnet));
	FUZZ_ASSERT(prefix_equal(&back.lease.subnet6, &ev.lease.subnet6));
out:
	free(text);
	event_clear(&back);
	event_clear(&ev);
	free(line);
	return 0;
}
