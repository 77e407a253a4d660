/* flannel-check's clock comparison (real skew is made by tests/check.bats
 * with libfaketime; here the arithmetic at its edges) and the HTTP Date
 * header it reads. */
#include <string.h>
#include <time.h>

#include "check/check.h"
#include "etcd/http.h"
#include "tap.h"

static void bounds(void)
{
	struct timespec t0 = { 1000, 200000000 }, t1 = { 1000, 300000000 };
	double lo, hi;

	/* the server said 1000: its clock was in [1000, 1001) */
	check_skew_bounds(1000, &t0, &t1, &lo, &hi);
	ok(lo > -0.31 && lo < -0.29 && hi > 0.79 && hi < 0.81, "same second: %.2f..%.2f", lo, hi);
	ok(check_skew_verdict(lo, hi, 5) == 0, "same second: no fault");
	check_skew_bounds(1120, &t0, &t1, &lo, &hi);
	ok(check_skew_verdict(lo, hi, 5) == 1, "etcd 120 s ahead: we are behind");
	check_skew_bounds(880, &t0, &t1, &lo, &hi);
	ok(check_skew_verdict(lo, hi, 5) == -1, "etcd 120 s behind: we are ahead");
	/* 5.5 s apart at most is not surely more than 5 */
	check_skew_bounds(1005, &t0, &t1, &lo, &hi);
	ok(check_skew_verdict(lo, hi, 5) == 0, "4.7..5.8 s: not sure, no fault");
	check_skew_bounds(1006, &t0, &t1, &lo, &hi);
	ok(check_skew_verdict(lo, hi, 5) == 1, "5.7..6.8 s: more than 5 for sure");
	/* a slow request widens the window */
	t1.tv_sec = 1010;
	check_skew_bounds(1008, &t0, &t1, &lo, &hi);
	ok(check_skew_verdict(lo, hi, 5) == 0, "10 s request: no verdict on 8 s");
}

static void dates(void)
{
	time_t t = 0;

	ok(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t) == 0 && t == 784111777,
	   "IMF-fixdate");
	ok(http_date_parse("Wed, 02 Dec 2026 13:20:38 GMT", &t) == 0 && t == 1796217638,
	   "2026");
	ok(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t) < 0, "RFC 850 form refused");
	ok(http_date_parse("Sun Nov  6 08:49:37 1994", &t) < 0, "asctime form refused");
	ok(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT x", &t) < 0, "trailing text refused");
	ok(http_date_parse("", &t) < 0, "empty refused");
}

static void header(void)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nDate: Wed, 02 Dec 2026 13:20:38 GMT\r\n"
				   "Content-Length: 2\r\n\r\n{}";
	struct http_parser p;
	size_t used;

	http_parser_init(&p, NULL, NULL);
	ok(http_parser_feed(&p, resp, strlen(resp), &used) == HTTP_DONE, "response parsed");
	ok(p.date == 1796217638, "Date kept");
	static const char bad[] = "HTTP/1.1 200 OK\r\nDate: soon\r\nContent-Length: 0\r\n\r\n";

	http_parser_init(&p, NULL, NULL);
	ok(http_parser_feed(&p, bad, strlen(bad), &used) == HTTP_DONE && p.date == 0,
	   "a bad Date is no date, no error");
}

int main(void)
{
	bounds();
	dates();
	header();
	return tap_done();
}
