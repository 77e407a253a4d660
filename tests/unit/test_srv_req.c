/* flannel-server's request parser: requests whole and in pieces, and every
 * refusal with its status. */
#include <string.h>

#include "server/srv_req.h"
#include "tap.h"

/* Feed text one byte at a time (step 1) or whole (0): the parser's answer. */
static int feed(struct srv_req *r, const char *text, size_t step)
{
	size_t n = strlen(text), off = 0, used;
	int rc = 0;

	srv_req_init(r);
	while (off < n && rc == 0) {
		size_t k = step && n - off > step ? step : n - off;

		rc = srv_req_feed(r, text + off, k, &used);
		off += used;
	}
	return rc;
}

static int status_of(const char *text)
{
	struct srv_req r;
	int rc = feed(&r, text, 0);

	srv_req_clear(&r);
	return rc;
}

int main(void)
{
	struct srv_req r;
	char big[SRV_HEAD_MAX + 64], v[32];

	is_int(feed(&r, "GET /v1/_/leases?next=42 HTTP/1.1\r\nHost: a\r\n\r\n", 1), 1,
	       "a GET, a byte at a time");
	is_str(r.method, "GET", "its method");
	is_str(r.path, "/v1/_/leases", "its path");
	is_str(r.query, "next=42", "its query");
	ok(srv_query_get(r.query, "next", v, sizeof(v)) == 1 && strcmp(v, "42") == 0, "next=42");
	ok(srv_query_get(r.query, "nex", v, sizeof(v)) == 0, "no nex=");
	ok(!r.close, "HTTP/1.1 keeps the connection");
	srv_req_clear(&r);
	is_int(feed(&r, "POST /v1/_/leases HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", 3), 1,
	       "a POST with a body, in threes");
	ok(r.body_len == 2 && strcmp(r.body, "{}") == 0 && r.close, "its body; 1.0 closes");
	srv_req_clear(&r);
	is_int(feed(&r, "GET /v1/a%2Db/config HTTP/1.1\r\n\r\n", 0), 1, "percent-encoding");
	is_str(r.path, "/v1/a-b/config", "decoded");
	srv_req_clear(&r);
	is_int(status_of("GET /v1/..%2F..%2Fetc HTTP/1.1\r\n\r\n"), 400, "an encoded slash");
	is_int(status_of("GET /v1/%00 HTTP/1.1\r\n\r\n"), 400, "an encoded NUL");
	is_int(status_of("GET /v1/%zz HTTP/1.1\r\n\r\n"), 400, "a bad escape");
	is_int(status_of("GET v1 HTTP/1.1\r\n\r\n"), 400, "a URI not from /");
	is_int(status_of("GET /v1/ HTTP/2.0\r\n\r\n"), 505, "HTTP/2.0");
	is_int(status_of("GETTINGLONG /v1/ HTTP/1.1\r\n\r\n"), 405, "an unknown long method");
	is_int(status_of("POST /v1/_/leases HTTP/1.1\r\n\r\n"), 411, "a POST without a length");
	is_int(status_of("POST /v1/_/leases HTTP/1.1\r\nContent-Length: 65537\r\n\r\n"), 413,
	       "a body over 64 KiB");
	is_int(status_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 413,
	       "a length past 64 bits");
	is_int(status_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400,
	       "two different lengths");
	is_int(status_of("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400, "a negative length");
	is_int(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501, "chunked");
	is_int(status_of("GET / HTTP/1.1\r\n folded\r\n\r\n"), 400, "obsolete line folding");
	is_int(status_of("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400, "a space in a header name");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /", 5);
	is_int(status_of(big), 414, "a request line over the head limit");
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	is_int(status_of(big), 431, "headers over the head limit");
	is_int(feed(&r, "\r\nGET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n", 0), 1,
	       "an empty line first, then two requests");
	is_str(r.path, "/", "the first request only");
	srv_req_clear(&r);
	return tap_done();
}
