/* The watch stream's line parser, fed without a connection. */
#include <stdlib.h>
#include <string.h>

#include "etcd/etcd_call.h"
#include "tap.h"

struct seen {
	int puts, deletes, progress, created;
	char key[64];
};

static int on_event(void *arg, const struct etcd_watch_event *ev)
{
	struct seen *s = arg;

	if (ev->type == EW_PUT) {
		s->puts++;
		snprintf(s->key, sizeof(s->key), "%.*s", (int)ev->kv.key_len, ev->kv.key);
	}
	s->deletes += ev->type == EW_DELETE;
	s->progress += ev->type == EW_PROGRESS;
	s->created += ev->type == EW_CREATED;
	return 0;
}

static int feed(struct etcd *e, struct seen *s, const char *text)
{
	memset(s, 0, sizeof(*s));
	return etcd_watch_feed(e, on_event, s, text, strlen(text));
}

int main(void)
{
	struct etcd_opts o = { .endpoints = "http://127.0.0.1:1" };
	struct etcd *e;
	struct seen s;
	char err[256];

	ok(etcd_open(&o, &e, err, sizeof(err)) == ETCD_OK, "open (nothing is connected)");
	need(e);
	/* Issue 12 #3: the message was read after its JSON was freed (ASan). */
	is_int(feed(e, &s, "{\"error\":{\"grpc_code\":11,\"message\":\"etcdserver: mvcc: required "
			   "revision has been compacted\"}}\n"),
	       ETCD_ERR_COMPACTED, "an error message saying compacted");
	ok(strstr(etcd_error(e), "compacted") != NULL, "its text kept: %s", etcd_error(e));
	is_int(feed(e, &s, "{\"error\":{\"message\":\"etcdserver: no leader\"}}\n"),
	       ETCD_ERR_UNAVAILABLE, "another error message");
	is_int(feed(e, &s, "{\"error\":{}}\n"), ETCD_ERR_UNAVAILABLE, "an error without message");
	is_int(feed(e, &s, "{\"result\":{\"header\":{\"revision\":\"5\"},\"created\":true}}\n"
			   "{\"result\":{\"header\":{\"revision\":\"6\"},\"events\":[{\"kv\":{"
			   "\"key\":\"L2EvMTAwLjY0LjcwLjAtMjQAeA==\",\"value\":\"e30=\","
			   "\"mod_revision\":\"6\"}}]}}\n"
			   "{\"result\":{\"header\":{\"revision\":\"7\"}}}\n"),
	       0, "created, one put, progress");
	ok(s.created == 1 && s.puts == 1 && s.progress == 1, "each seen once");
	is_int(feed(e, &s, "{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!\"}}]}}\n"),
	       ETCD_ERR_PROTO, "a key that is not base64");
	is_int(feed(e, &s, "{\"result\":\n"), ETCD_ERR_PROTO, "bad JSON");
	is_int(feed(e, &s, "{\"result\":{}}"), 0, "a line without its newline waits");
	etcd_close(e);
	return tap_done();
}
