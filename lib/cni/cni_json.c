/* cni_json.c - Go-compatible JSON parsing and encoding for the CNI plugin. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"
#include "base/mem.h"
#include "cni/cni_json.h"

/* Go's encoding/json refuses deeper nesting (scanner maxNestingDepth). */
#define GO_MAX_DEPTH 10000

/* Decode one UTF-8 sequence with Go's rules; 0 when invalid. */
static size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	*cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
	for (size_t i = 1; i < len; i++) {
		if (i > 1 && (p[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	return len;
}

static void utf8_put(struct buf *b, unsigned cp)
{
	char o[4];
	size_t n;

	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | cp >> 18);
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, o, n);
}

/* strconv.IsPrint, close enough: the common non-printing ranges. */
static bool rune_printable(unsigned cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad)
		return false;
	if ((cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
	    (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff ||
	    (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe000 && cp <= 0xf8ff))
		return false;
	return true;
}

void cni_json_quote(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	static const char esc[] = "\a\b\f\n\r\t\v", letter[] = "abfnrtv";

	buf_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t w = utf8_decode(p + i, n - i, &cp);
		const char *e;

		if (!w) {
			buf_printf(b, "\\x%02x", p[i]);
			i++;
			continue;
		}
		i += w;
		if (cp == '"' || cp == '\\') {
			buf_add(b, "\\", 1);
			buf_add(b, (const char *)&p[i - 1], 1);
		} else if (cp && cp < 0x80 && (e = strchr(esc, (int)cp))) {
			buf_add(b, "\\", 1);
			buf_add(b, &letter[e - esc], 1);
		} else if (cp < 0x20 || cp == 0x7f) {
			buf_printf(b, "\\x%02x", cp);
		} else if (rune_printable(cp)) {
			buf_add(b, (const char *)p + i - w, w);
		} else if (cp < 0x10000) {
			buf_printf(b, "\\u%04x", cp);
		} else {
			buf_printf(b, "\\U%08x", cp);
		}
	}
	buf_add(b, "\"", 1);
}

/* Go's quoteChar: how a syntax error names the offending byte. */
static void quote_char(unsigned char c, char *buf, size_t len)
{
	struct buf b = { 0 };
	unsigned cp = c;

	if (c == '\'' || c == '"') {
		snprintf(buf, len, c == '"' ? "'\"'" : "'\\''");
		return;
	}
	/* string(c) in Go is the rune c, so bytes >= 0x80 are Latin-1 runes. */
	{
		struct buf r = { 0 };

		utf8_put(&r, cp);
		if (r.data)
			cni_json_quote(&b, r.data, r.len);
		buf_free(&r);
	}
	if (b.data && b.len >= 2)
		snprintf(buf, len, "'%.*s'", (int)(b.len - 2), b.data + 1);
	else
		snprintf(buf, len, "'?'");
	buf_free(&b);
}

const char *cni_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	default:
		return "null";
	}
}

/* ---- parser ---------------------------------------------------------- */

struct frame {
	json_t *c;
	char *key;
	size_t keylen;
};

struct parser {
	const unsigned char *p, *end;
	struct frame *st;
	size_t depth, cap;
	char *err;
	size_t errlen;
	int failed;
	json_t *members; /* [key, value] of the top-level object, repeats kept */
};

static int syntax(struct parser *ps, const char *ctx)
{
	char q[16];

	if (ps->failed)
		return -1;
	if (ps->p >= ps->end) {
		snprintf(ps->err, ps->errlen, "unexpected end of JSON input");
	} else {
		quote_char(*ps->p, q, sizeof(q));
		snprintf(ps->err, ps->errlen, "invalid character %s %s", q, ctx);
	}
	ps->failed = 1;
	return -1;
}

static int oom(struct parser *ps)
{
	if (!ps->failed)
		snprintf(ps->err, ps->errlen, "out of memory");
	ps->failed = 1;
	return -1;
}

/* At "\u": read 4 hex digits into *u; syntax error otherwise. */
static int read_u4(struct parser *ps, unsigned *u)
{
	*u = 0;
	for (int i = 0; i < 4; i++) {
		int h;

		if (ps->p >= ps->end)
			return syntax(ps, "");
		h = hex_value(*ps->p);
		if (h < 0)
			return syntax(ps, "in \\u hexadecimal character escape");
		*u = *u << 4 | (unsigned)h;
		ps->p++;
	}
	return 0;
}

static int string_escape(struct parser *ps, struct buf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned u, u2;

	if (ps->p >= ps->end)
		return syntax(ps, "");
	if (*ps->p != 'u') {
		if (!*ps->p || !(e = strchr(from, *ps->p)))
			return syntax(ps, "in string escape code");
		buf_add(b, &to[e - from], 1);
		ps->p++;
		return 0;
	}
	ps->p++;
	if (read_u4(ps, &u) < 0)
		return -1;
	if (u >= 0xd800 && u < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
	    ps->p[1] == 'u') {
		const unsigned char *save = ps->p;

		ps->p += 2;
		if (read_u4(ps, &u2) < 0)
			return -1;
		if (u2 >= 0xdc00 && u2 < 0xe000) {
			utf8_put(b, 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00));
			return 0;
		}
		/* Not a pair: the second escape is decoded on its own. */
		ps->p = save;
	}
	utf8_put(b, (u >= 0xd800 && u < 0xe000) ? 0xfffd : u);
	return 0;
}

/* At the opening quote: decode the string into b. */
static int parse_string(struct parser *ps, struct buf *b)
{
	ps->p++;
	for (;;) {
		unsigned cp;
		size_t w;

		if (ps->p >= ps->end)
			return syntax(ps, "");
		if (*ps->p == '"') {
			ps->p++;
			break;
		}
		if (*ps->p == '\\') {
			ps->p++;
			if (string_escape(ps, b) < 0)
				return -1;
			continue;
		}
		if (*ps->p < 0x20)
			return syntax(ps, "in string literal");
		w = utf8_decode(ps->p, (size_t)(ps->end - ps->p), &cp);
		if (!w) {
			utf8_put(b, 0xfffd);
			ps->p++;
		} else {
			buf_add(b, (const char *)ps->p, w);
			ps->p += w;
		}
	}
	if (b->failed)
		return oom(ps);
	if (!b->data)
		buf_add(b, "", 0);
	return b->failed ? oom(ps) : 0;
}

static int digits(struct parser *ps)
{
	const unsigned char *s = ps->p;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	return ps->p > s;
}

static int parse_number(struct parser *ps, json_t **v)
{
	const unsigned char *s = ps->p;
	char *tmp;
	double d;

	if (*ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return syntax(ps, "in numeric literal");
	if (*ps->p == '0')
		ps->p++;
	else
		digits(ps);
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!digits(ps))
			return syntax(ps, "after decimal point in numeric literal");
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!digits(ps))
			return syntax(ps, "in exponent of numeric literal");
	}
	tmp = fl_strndup((const char *)s, (size_t)(ps->p - s));
	if (!tmp)
		return oom(ps);
	errno = 0;
	d = strtod(tmp, NULL);
	if (isinf(d)) {
		snprintf(ps->err, ps->errlen,
			 "json: cannot unmarshal number %.64s into Go value of type float64", tmp);
		ps->failed = 1;
		free(tmp);
		return -1;
	}
	free(tmp);
	*v = json_real(d);
	return *v ? 0 : oom(ps);
}

static int parse_literal(struct parser *ps, json_t **v)
{
	static const char *const words[] = { "true", "false", "null" };
	const char *w = NULL;
	char ctx[48];

	for (size_t i = 0; i < 3; i++)
		if (*ps->p == (unsigned char)words[i][0])
			w = words[i];
	ps->p++;
	for (const char *c = w + 1; *c; c++, ps->p++) {
		if (ps->p >= ps->end || *ps->p != (unsigned char)*c) {
			snprintf(ctx, sizeof(ctx), "in literal %s (expecting '%c')", w, *c);
			return syntax(ps, ctx);
		}
	}
	*v = w[0] == 't' ? json_true() : w[0] == 'f' ? json_false() : json_null();
	return 0;
}

static int parse_scalar(struct parser *ps, json_t **v)
{
	unsigned char c = *ps->p;

	if (c == '"') {
		struct buf b = { 0 };

		if (parse_string(ps, &b) < 0) {
			buf_free(&b);
			return -1;
		}
		*v = json_stringn(b.data, b.len);
		buf_free(&b);
		return *v ? 0 : oom(ps);
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return parse_number(ps, v);
	if (c == 't' || c == 'f' || c == 'n')
		return parse_literal(ps, v);
	return syntax(ps, "looking for beginning of value");
}

static int push(struct parser *ps, json_t *c)
{
	if (!c)
		return oom(ps);
	if (ps->depth >= GO_MAX_DEPTH) {
		json_decref(c);
		return syntax(ps, "exceeded max depth");
	}
	if (ps->depth == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		struct frame *f = fl_realloc(ps->st, cap * sizeof(*f));

		if (!f) {
			json_decref(c);
			return oom(ps);
		}
		ps->st = f;
		ps->cap = cap;
	}
	ps->st[ps->depth++] = (struct frame){ .c = c };
	ps->p++;
	return 0;
}

/* Attach a finished value to the open container; consumes v. */
static int attach(struct parser *ps, json_t *v)
{
	struct frame *f = &ps->st[ps->depth - 1];
	int rc;

	if (json_is_array(f->c)) {
		rc = json_array_append_new(f->c, v);
	} else {
		if (ps->members && ps->depth == 1 &&
		    json_array_append_new(ps->members, json_pack("[s%O]", f->key, f->keylen, v)) < 0) {
			json_decref(v);
			return oom(ps);
		}
		json_object_deln(f->c, f->key, f->keylen);
		rc = json_object_setn_new(f->c, f->key, f->keylen, v);
		free(f->key);
		f->key = NULL;
	}
	return rc ? oom(ps) : 0;
}

static int read_key(struct parser *ps)
{
	struct buf b = { 0 };
	struct frame *f = &ps->st[ps->depth - 1];

	if (*ps->p != '"')
		return syntax(ps, "looking for beginning of object key string");
	if (parse_string(ps, &b) < 0) {
		buf_free(&b);
		return -1;
	}
	f->keylen = b.len;
	f->key = buf_take(&b);
	return f->key ? 0 : oom(ps);
}

enum pstate { P_VALUE, P_VALUE_OR_END, P_KEY, P_KEY_OR_END, P_COLON, P_AFTER };

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
		ps->p++;
}

/* After a value inside a container: ',' or the closing bracket. */
static int after_value(struct parser *ps, enum pstate *st, json_t **done)
{
	struct frame *f = &ps->st[ps->depth - 1];
	bool arr = json_is_array(f->c);

	if (*ps->p == ',') {
		ps->p++;
		*st = arr ? P_VALUE : P_KEY;
		return 0;
	}
	if (*ps->p == (arr ? ']' : '}')) {
		ps->p++;
		*done = f->c;
		ps->depth--;
		return 0;
	}
	return syntax(ps, arr ? "after array element" : "after object key:value pair");
}

static int step(struct parser *ps, enum pstate *st, json_t **done)
{
	unsigned char c = *ps->p;

	switch (*st) {
	case P_VALUE_OR_END:
	case P_VALUE:
		if (*st == P_VALUE_OR_END && c == ']') {
			ps->p++;
			*done = ps->st[--ps->depth].c;
			return 0;
		}
		if (c == '{' || c == '[') {
			*st = c == '{' ? P_KEY_OR_END : P_VALUE_OR_END;
			return push(ps, c == '{' ? json_object() : json_array());
		}
		return parse_scalar(ps, done);
	case P_KEY_OR_END:
		if (c == '}') {
			ps->p++;
			*done = ps->st[--ps->depth].c;
			return 0;
		}
		/* fall through */
	case P_KEY:
		*st = P_COLON;
		return read_key(ps);
	case P_COLON:
		if (c != ':')
			return syntax(ps, "after object key");
		ps->p++;
		*st = P_VALUE;
		return 0;
	case P_AFTER:
		return after_value(ps, st, done);
	}
	return -1;
}

static void parser_free(struct parser *ps)
{
	for (size_t i = 0; i < ps->depth; i++) {
		json_decref(ps->st[i].c);
		free(ps->st[i].key);
	}
	free(ps->st);
}

int cni_json_parse(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
	return cni_json_parse_members(buf, len, out, NULL, err, errlen);
}

int cni_json_parse_members(const char *buf, size_t len, json_t **out, json_t **members,
			   char *err, size_t errlen)
{
	struct parser ps = { .p = (const unsigned char *)buf,
			     .end = (const unsigned char *)buf + len,
			     .err = err, .errlen = errlen };
	enum pstate st = P_VALUE;
	json_t *root = NULL;

	*out = NULL;
	if (members) {
		*members = ps.members = json_array();
		if (!ps.members) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	for (;;) {
		json_t *done = NULL;

		skip_space(&ps);
		if (root) {
			if (ps.p < ps.end) {
				syntax(&ps, "after top-level value");
				break;
			}
			*out = root;
			parser_free(&ps);
			return 0;
		}
		if (ps.p >= ps.end) {
			syntax(&ps, "");
			break;
		}
		if (step(&ps, &st, &done) < 0)
			break;
		if (!done)
			continue;
		if (!ps.depth) {
			root = done;
		} else if (attach(&ps, done) < 0) {
			break;
		}
		st = P_AFTER;
	}
	json_decref(root);
	parser_free(&ps);
	if (members) {
		json_decref(*members);
		*members = NULL;
	}
	return -1;
}

/* ---- encoder --------------------------------------------------------- */

/* Append c n times to buf (capacity len) at *off, never overflowing. */
static void put(char *buf, size_t len, size_t *off, const char *s, size_t n)
{
	for (size_t i = 0; i < n && *off + 1 < len; i++)
		buf[(*off)++] = s[i];
	buf[*off < len ? *off : len - 1] = '\0';
}

static void put_zeros(char *buf, size_t len, size_t *off, int n)
{
	for (int i = 0; i < n; i++)
		put(buf, len, off, "0", 1);
}

void cni_json_float(double d, char *buf, size_t len)
{
	char tmp[40], dig[24], ex[16];
	size_t n = 0, off = 0;
	int exp, prec;
	double a = fabs(d);
	bool use_e = a != 0 && (a < 1e-6 || a >= 1e21);
	const char *p;

	if (!len)
		return;
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, a);
		if (strtod(tmp, NULL) == a)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, a);
	for (p = tmp; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && n < sizeof(dig) - 1)
			dig[n++] = *p;
	dig[n] = '\0';
	exp = (int)strtol(p + 1, NULL, 10);
	while (n > 1 && dig[n - 1] == '0')
		dig[--n] = '\0';
	buf[0] = '\0';
	if (signbit(d))
		put(buf, len, &off, "-", 1);
	if (use_e) {
		put(buf, len, &off, dig, 1);
		if (n > 1) {
			put(buf, len, &off, ".", 1);
			put(buf, len, &off, dig + 1, n - 1);
		}
		snprintf(ex, sizeof(ex), exp < 0 ? "e-%d" : "e+%02d", exp < 0 ? -exp : exp);
		put(buf, len, &off, ex, strlen(ex));
	} else if (exp >= (int)n - 1) {
		put(buf, len, &off, dig, n);
		put_zeros(buf, len, &off, exp - ((int)n - 1));
	} else if (exp >= 0) {
		put(buf, len, &off, dig, (size_t)exp + 1);
		put(buf, len, &off, ".", 1);
		put(buf, len, &off, dig + exp + 1, n - (size_t)exp - 1);
	} else {
		put(buf, len, &off, "0.", 2);
		put_zeros(buf, len, &off, -exp - 1);
		put(buf, len, &off, dig, n);
	}
}

/* encodeState.string with HTML escaping, as json.Marshal does. */
static void enc_string(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t w;

		if (p[i] < 0x80) {
			unsigned char c = p[i++];

			if (c == '"' || c == '\\') {
				char e[2] = { '\\', (char)c };

				buf_add(b, e, 2);
			} else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
				buf_str(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" :
					    c == '\t' ? "\\t" : c == '\b' ? "\\b" : "\\f");
			} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
				buf_printf(b, "\\u00%02x", c);
			} else {
				buf_add(b, (const char *)&c, 1);
			}
			continue;
		}
		w = utf8_decode(p + i, n - i, &cp);
		if (!w) {
			buf_str(b, "\\ufffd");
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			buf_printf(b, "\\u%04x", cp);
			i += w;
		} else {
			buf_add(b, s + i, w);
			i += w;
		}
	}
	buf_add(b, "\"", 1);
}

struct kv {
	const char *k;
	size_t klen;
	json_t *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->k, y->k, n);

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static void enc_value(struct buf *b, const json_t *v, int flags, int depth);

static void newline(struct buf *b, int flags, int depth)
{
	if (!(flags & CJ_INDENT))
		return;
	buf_add(b, "\n", 1);
	for (int i = 0; i < depth; i++)
		buf_add(b, "    ", 4);
}

static void enc_object(struct buf *b, const json_t *v, int flags, int depth)
{
	size_t n = json_object_size(v), i = 0;
	struct kv *kv;
	const char *k;
	size_t klen;
	json_t *m;

	if (!n) {
		buf_add(b, "{}", 2);
		return;
	}
	kv = fl_calloc(n, sizeof(*kv));
	if (!kv) {
		b->failed = true;
		return;
	}
	json_object_keylen_foreach((json_t *)v, k, klen, m)
		kv[i++] = (struct kv){ k, klen, m };
	if (flags & CJ_SORT)
		qsort(kv, n, sizeof(*kv), kv_cmp);
	buf_add(b, "{", 1);
	for (i = 0; i < n; i++) {
		if (i)
			buf_add(b, ",", 1);
		newline(b, flags, depth + 1);
		enc_string(b, kv[i].k, kv[i].klen);
		buf_str(b, flags & CJ_INDENT ? ": " : ":");
		enc_value(b, kv[i].v, flags, depth + 1);
	}
	newline(b, flags, depth);
	buf_add(b, "}", 1);
	free(kv);
}

static void enc_value(struct buf *b, const json_t *v, int flags, int depth)
{
	char num[48];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		enc_object(b, v, flags, depth);
		break;
	case JSON_ARRAY:
		if (!json_array_size(v)) {
			buf_add(b, "[]", 2);
			break;
		}
		buf_add(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				buf_add(b, ",", 1);
			newline(b, flags, depth + 1);
			enc_value(b, json_array_get(v, i), flags, depth + 1);
		}
		newline(b, flags, depth);
		buf_add(b, "]", 1);
		break;
	case JSON_STRING:
		enc_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		cni_json_float(json_real_value(v), num, sizeof(num));
		buf_str(b, num);
		break;
	case JSON_TRUE:
		buf_add(b, "true", 4);
		break;
	case JSON_FALSE:
		buf_add(b, "false", 5);
		break;
	default:
		buf_add(b, "null", 4);
		break;
	}
}

char *cni_json_dump(const json_t *v, int flags, size_t *len)
{
	struct buf b = { 0 };
	char *s;

	if (!v) {
		errno = EINVAL; /* a value whose building failed */
		return NULL;
	}
	enc_value(&b, v, flags, 0);
	if (len)
		*len = b.len;
	s = buf_take(&b);
	return s;
}
