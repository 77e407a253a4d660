/* Go-compatible JSON: syntax error texts, float forms, escaping, key order. */
#include <math.h>

#include "base/mem.h"
#include "cni/cni_json.h"
#include "tap.h"

/* Expected texts are what Go's json.Unmarshal returns for the same input. */
static const struct {
	const char *in, *err;
} syntax[] = {
	{ "{bad", "invalid character 'b' looking for beginning of object key string" },
	{ "", "unexpected end of JSON input" },
	{ "   ", "unexpected end of JSON input" },
	{ "{\"a\":1", "unexpected end of JSON input" },
	{ "{\"a\" 1}", "invalid character '1' after object key" },
	{ "{\"a\":1 \"b\"}", "invalid character '\"' after object key:value pair" },
	{ "[1 2]", "invalid character '2' after array element" },
	{ "[1,]", "invalid character ']' looking for beginning of value" },
	{ "{\"a\":1,}", "invalid character '}' looking for beginning of object key string" },
	{ "{} x", "invalid character 'x' after top-level value" },
	{ "01", "invalid character '1' after top-level value" },
	{ "-", "unexpected end of JSON input" },
	{ "-a", "invalid character 'a' in numeric literal" },
	{ "1.e5", "invalid character 'e' after decimal point in numeric literal" },
	{ "1e+", "unexpected end of JSON input" },
	{ "1ex", "invalid character 'x' in exponent of numeric literal" },
	{ "tru", "unexpected end of JSON input" },
	{ "trux", "invalid character 'x' in literal true (expecting 'e')" },
	{ "nul!", "invalid character '!' in literal null (expecting 'l')" },
	{ "fals3", "invalid character '3' in literal false (expecting 'e')" },
	{ "\"a\tb\"", "invalid character '\\t' in string literal" },
	{ "\"\\x\"", "invalid character 'x' in string escape code" },
	{ "\"\\u12g4\"", "invalid character 'g' in \\u hexadecimal character escape" },
	{ "'a'", "invalid character '\\'' looking for beginning of value" },
	{ "\x01", "invalid character '\\x01' looking for beginning of value" },
	{ "\xc3", "invalid character '\u00c3' looking for beginning of value" },
	{ "{\"a\":}", "invalid character '}' looking for beginning of value" },
	{ "1e400", "json: cannot unmarshal number 1e400 into Go value of type float64" },
};

static const struct {
	double d;
	const char *s;
} floats[] = {
	{ 1400, "1400" }, { 1e3, "1000" }, { 1.5, "1.5" }, { 0, "0" }, { -0.0, "-0" },
	{ 0.1, "0.1" }, { 1e21, "1e+21" }, { 1e20, "100000000000000000000" },
	{ 1e-6, "0.000001" }, { 1e-7, "1e-7" }, { 1.5e-10, "1.5e-10" }, { -2.5e300, "-2.5e+300" },
	{ 12345678901234567890.0, "12345678901234567000" }, { 0.30000000000000004, "0.30000000000000004" },
	{ 5e-324, "5e-324" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
};

static void test_syntax(void)
{
	char err[256];
	json_t *v;

	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		int rc = cni_json_parse(syntax[i].in, strlen(syntax[i].in), &v, err, sizeof(err));

		ok(rc < 0 && !v, "syntax %zu refused", i);
		is_str(rc < 0 ? err : "(parsed)", syntax[i].err, "syntax %zu: Go's text", i);
	}
}

static void test_values(void)
{
	char err[256];
	json_t *v = NULL;
	const char *in = "{\"b\":1,\"a\":[true,false,null,\"x\\u00e9\\ud83d\\ude00\"],\"b\":2.5}";

	ok(cni_json_parse(in, strlen(in), &v, err, sizeof(err)) == 0, "parse an object");
	need(v);
	ok(json_is_real(json_object_get(v, "b")), "numbers are float64");
	ok(json_real_value(json_object_get(v, "b")) == 2.5, "a repeated key keeps its last value");
	ok(strcmp(json_object_iter_key(json_object_iter(v)), "a") == 0,
	   "the repeated key moves to its last position");
	is_str(json_string_value(json_array_get(json_object_get(v, "a"), 3)),
	       "x\xc3\xa9\xf0\x9f\x98\x80", "escapes and surrogate pairs decoded");
	json_decref(v);

	ok(cni_json_parse("\"\\ud800x\\udc00\"", 15, &v, err, sizeof(err)) == 0,
	   "lone surrogates parse");
	is_str(json_string_value(v), "\xef\xbf\xbdx\xef\xbf\xbd", "lone surrogates become U+FFFD");
	json_decref(v);
	ok(cni_json_parse("\"a\xff\xed\xa0\x80z\"", 8, &v, err, sizeof(err)) == 0,
	   "invalid UTF-8 parses");
	is_str(json_string_value(v), "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz",
	       "each invalid byte becomes U+FFFD, as Go does");
	json_decref(v);
	ok(cni_json_parse(" null ", 6, &v, err, sizeof(err)) == 0 && json_is_null(v),
	   "top-level null");
	json_decref(v);
}

static void test_depth(void)
{
	size_t n = 10001;
	char *deep = malloc(2 * n + 1), err[256];
	json_t *v;

	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	ok(cni_json_parse(deep, 2 * n, &v, err, sizeof(err)) < 0, "10001 levels refused");
	is_str(err, "invalid character '[' exceeded max depth", "Go's depth message");
	ok(cni_json_parse(deep + 1, 2 * n - 2, &v, err, sizeof(err)) == 0, "10000 levels parse");
	json_decref(v);
	free(deep);
}

static void test_encode(void)
{
	char buf[64], err[256], *s;
	json_t *v;
	const char *in = "{\"z\":1,\"a\":{\"y\":\"<&>\\u2028\\n\\t\\b\\f\\u0001\\u007f\",\"b\":[]},"
			 "\"M\":{},\"é\":1e21}";

	for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++) {
		cni_json_float(floats[i].d, buf, sizeof(buf));
		is_str(buf, floats[i].s, "float %.17g", floats[i].d);
	}
	cni_json_parse(in, strlen(in), &v, err, sizeof(err));
	need(v);
	s = cni_json_dump(v, CJ_SORT, NULL);
	is_str(s, "{\"M\":{},\"a\":{\"b\":[],\"y\":\"\\u003c\\u0026\\u003e\\u2028\\n\\t\\b\\f\\u0001\x7f\"},"
		  "\"z\":1,\"é\":1e+21}",
	       "sorted keys, Go's HTML-safe escapes");
	free(s);
	s = cni_json_dump(json_object_get(v, "a"), CJ_INDENT, NULL);
	is_str(s, "{\n    \"y\": \"\\u003c\\u0026\\u003e\\u2028\\n\\t\\b\\f\\u0001\x7f\",\n    \"b\": []\n}",
	       "MarshalIndent form, insertion order");
	free(s);
	json_decref(v);
}

static void test_quote(void)
{
	struct buf b = { 0 };

	cni_json_quote(&b, "a\"b\\c\n\x01\x7f\xff\xc3\xa9", 11);
	is_str(b.data, "\"a\\\"b\\\\c\\n\\x01\\x7f\\xff\xc3\xa9\"", "strconv.Quote");
	buf_free(&b);
}

static void test_alloc_failures(void)
{
	const char *in = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":\"e\",\"a\":null}";
	int clean = 1, reached = 0;

	fl_alloc_hook_jansson();
	for (unsigned long n = 1; n < 200 && !reached; n++) {
		char err[256];
		json_t *v = NULL;
		char *s = NULL;

		fl_alloc_fail_at(n);
		if (cni_json_parse(in, strlen(in), &v, err, sizeof(err)) == 0)
			s = cni_json_dump(v, CJ_SORT, NULL);
		fl_alloc_fail_at(0);
		if (s) {
			reached = 1;
			clean &= strcmp(s, "{\"a\":null,\"d\":\"e\"}") == 0;
		} else if (v) {
			clean &= 1; /* dump failed cleanly */
		} else {
			clean &= strcmp(err, "out of memory") == 0;
		}
		free(s);
		json_decref(v);
	}
	ok(reached && clean, "every failed allocation gives a clean error, then the right output");
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	test_syntax();
	test_values();
	test_depth();
	test_encode();
	test_quote();
	test_alloc_failures();
	return tap_done();
}
