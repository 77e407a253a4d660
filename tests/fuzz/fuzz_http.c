/* The HTTP/1.1 response parser (status, headers, Content-Length, chunked,
 * read to EOF), fed in pieces whose size the first byte chooses. */
#include "etcd/http.h"
#include "fuzz.h"

static int sink(void *arg, const char *data, size_t len)
{
	size_t *total = arg;

	(void)data;
	*total += len;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_parser p;
	size_t piece, off = 1, used, total = 0;
	int rc = HTTP_OK;

	if (size < 1)
		return 0;
	piece = data[0] ? data[0] : size;
	http_parser_init(&p, sink, &total);
	while (rc == HTTP_OK && off < size) {
		size_t n = size - off < piece ? size - off : piece;

		rc = http_parser_feed(&p, (const char *)data + off, n, &used);
		FUZZ_ASSERT(used <= n);
		/* More wanted means all was taken. */
		FUZZ_ASSERT(rc != HTTP_OK || used == n);
		off += used;
		if (rc == HTTP_DONE)
			break;
	}
	if (rc == HTTP_OK)
		rc = http_parser_eof(&p);
	FUZZ_ASSERT(total <= size);
	(void)http_parser_keepalive(&p);
	return 0;
}
