/* flannel-server's request parser (lib/server/srv_req.c), fed in pieces
 * whose size the first byte chooses, requests after requests as on a
 * kept-alive connection. */
#include "fuzz.h"
#include "server/srv_req.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

static void check_done(const struct srv_req *r)
{
	char v[64];

	/* What the handlers rely on: bounded, terminated, a path from '/'. */
	FUZZ_ASSERT(r->state == SR_DONE);
	FUZZ_ASSERT(strlen(r->uri) < SRV_URI_MAX && r->uri[0] == '/');
	FUZZ_ASSERT(r->path[0] == '/' && !memchr(r->path, '\0', strlen(r->path)));
	FUZZ_ASSERT(strlen(r->method) > 0 && strlen(r->method) < sizeof(r->method));
	FUZZ_ASSERT(r->body_len == (r->has_length ? r->length : 0));
	FUZZ_ASSERT(r->body_len <= SRV_BODY_MAX);
	FUZZ_ASSERT(!r->body || r->body[r->body_len] == '\0');
	(void)srv_query_get(r->query, "next", v, sizeof(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct srv_req r;
	size_t piece, off = 1, used;
	int rc = 0, requests = 0;

	if (size < 1)
		return 0;
	piece = data[0] ? data[0] : size;
	srv_req_init(&r);
	while (off < size && requests < 64) {
		size_t n = size - off < piece ? size - off : piece;

		rc = srv_req_feed(&r, (const char *)data + off, n, &used);
		FUZZ_ASSERT(used <= n);
		/* More wanted means all was taken. */
		FUZZ_ASSERT(rc != 0 || used == n);
		off += used;
		if (rc == 1) {
			check_done(&r);
			srv_req_clear(&r);
			requests++;
			continue;
		}
		if (rc != 0) {
			FUZZ_ASSERT(rc >= 400 && rc < 600);
			break;
		}
	}
	srv_req_clear(&r);
	return 0;
}
