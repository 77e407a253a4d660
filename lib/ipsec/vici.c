/* vici.c - the VICI packet codec: a builder for the requests we send and a
 * checking decoder for what charon sends back. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "ipsec/vici.h"

static void put_u8(struct vici_builder *w, unsigned v)
{
	uint8_t c = (uint8_t)v;

	if (buf_add(&w->b, &c, 1) < 0)
		w->bad = true;
}

static void put_u16(struct vici_builder *w, size_t v)
{
	uint8_t c[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	if (buf_add(&w->b, c, 2) < 0)
		w->bad = true;
}

/* A u8 length and the name; names of 1..255 bytes. */
static void put_name(struct vici_builder *w, const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 255) {
		w->bad = true;
		return;
	}
	put_u8(w, (unsigned)n);
	if (buf_add(&w->b, name, n) < 0)
		w->bad = true;
}

static void put_value(struct vici_builder *w, const char *value)
{
	size_t n = strlen(value);

	if (n > 65535) {
		w->bad = true;
		return;
	}
	put_u16(w, n);
	if (buf_add(&w->b, value, n) < 0)
		w->bad = true;
}

void vici_begin(struct vici_builder *w, enum vici_type type, const char *name)
{
	static const uint8_t zero[4];

	*w = (struct vici_builder){ .b = { .max = VICI_PACKET_MAX + 4 } };
	if (buf_add(&w->b, zero, sizeof(zero)) < 0)
		w->bad = true;
	put_u8(w, type);
	if (name)
		put_name(w, name);
}

void vici_section(struct vici_builder *w, const char *name)
{
	if (w->in_list || w->depth >= VICI_DEPTH_MAX)
		w->bad = true;
	put_u8(w, VICI_SECTION_START);
	put_name(w, name);
	w->depth++;
}

void vici_section_end(struct vici_builder *w)
{
	if (w->in_list || w->depth <= 0)
		w->bad = true;
	put_u8(w, VICI_SECTION_END);
	w->depth--;
}

void vici_kv(struct vici_builder *w, const char *key, const char *value)
{
	if (w->in_list)
		w->bad = true;
	put_u8(w, VICI_KEY_VALUE);
	put_name(w, key);
	put_value(w, value);
}

void vici_kvf(struct vici_builder *w, const char *key, const char *fmt, ...)
{
	char v[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(v)) {
		w->bad = true;
		return;
	}
	vici_kv(w, key, v);
}

void vici_list(struct vici_builder *w, const char *name)
{
	if (w->in_list)
		w->bad = true;
	put_u8(w, VICI_LIST_START);
	put_name(w, name);
	w->in_list = true;
}

void vici_item(struct vici_builder *w, const char *value)
{
	if (!w->in_list)
		w->bad = true;
	put_u8(w, VICI_LIST_ITEM);
	put_value(w, value);
}

void vici_list_end(struct vici_builder *w)
{
	if (!w->in_list)
		w->bad = true;
	put_u8(w, VICI_LIST_END);
	w->in_list = false;
}

int vici_finish(struct vici_builder *w, const char **pkt, size_t *len)
{
	size_t n;
	uint8_t *p;

	if (w->bad || w->depth || w->in_list || w->b.failed || w->b.truncated || !w->b.data)
		return -1;
	n = w->b.len - 4;
	p = (uint8_t *)w->b.data;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	*pkt = w->b.data;
	*len = w->b.len;
	return 0;
}

void vici_builder_free(struct vici_builder *w)
{
	buf_free(&w->b);
}

/* ---- decoding ---- */

struct reader {
	const uint8_t *p, *end;
	char *text;
	size_t tlen;
};

static bool take(struct reader *r, size_t n, const uint8_t **out)
{
	if ((size_t)(r->end - r->p) < n)
		return false;
	*out = r->p;
	r->p += n;
	return true;
}

/* Copy n bytes and a NUL into the text arena. */
static const char *keep(struct reader *r, const uint8_t *s, size_t n)
{
	char *t = r->text + r->tlen;

	memcpy(t, s, n);
	t[n] = '\0';
	r->tlen += n + 1;
	return t;
}

static bool read_name(struct reader *r, const char **name)
{
	const uint8_t *l, *s;

	if (!take(r, 1, &l) || !take(r, l[0], &s))
		return false;
	*name = keep(r, s, l[0]);
	return true;
}

static bool read_value(struct reader *r, const char **value, size_t *vlen)
{
	const uint8_t *l, *s;
	size_t n;

	if (!take(r, 2, &l))
		return false;
	n = (size_t)l[0] << 8 | l[1];
	if (!take(r, n, &s))
		return false;
	*value = keep(r, s, n);
	*vlen = n;
	return true;
}

static int fail(struct vici_msg *m, char *err, size_t errlen, size_t off, const char *why)
{
	snprintf(err, errlen, "malformed VICI packet at byte %zu: %s", off, why);
	vici_msg_free(m);
	return -1;
}

/* Types that carry a name after the type byte. */
static bool named(uint8_t type)
{
	return type == VICI_CMD_REQUEST || type == VICI_EVENT_REGISTER ||
	       type == VICI_EVENT_UNREGISTER || type == VICI_EVENT;
}

int vici_decode(const void *pkt, size_t len, struct vici_msg *m, char *err, size_t errlen)
{
	struct reader r = { .p = pkt, .end = (const uint8_t *)pkt + len };
	int stack[VICI_DEPTH_MAX + 1], depth = 0, list = -1;
	const uint8_t *t;
	const char *name;

	*m = (struct vici_msg){ 0 };
	if (len > VICI_PACKET_MAX)
		return fail(m, err, errlen, 0, "longer than 512 KiB");
	if (!take(&r, 1, &t))
		return fail(m, err, errlen, 0, "empty");
	m->type = t[0];
	if (m->type > VICI_EVENT)
		return fail(m, err, errlen, 0, "unknown packet type");
	/* Every element adds at most one NUL per byte it spends: 2 * len bounds it. */
	m->text = fl_malloc(2 * len + 1);
	m->n = fl_calloc(len / 2 + 1, sizeof(*m->n));
	if (!m->text || !m->n) {
		snprintf(err, errlen, "decode a VICI packet of %zu bytes: out of memory", len);
		vici_msg_free(m);
		return -1;
	}
	r.text = m->text;
	if (named(m->type)) {
		if (!read_name(&r, &name) || !name[0])
			return fail(m, err, errlen, 1, "the packet's name is cut short");
		snprintf(m->name, sizeof(m->name), "%s", name);
	}
	stack[0] = -1;
	while (r.p < r.end) {
		size_t off = (size_t)(r.p - (const uint8_t *)pkt);
		struct vici_node *n = &m->n[m->count];
		const uint8_t *k;

		take(&r, 1, &k);
		if (list >= 0 && k[0] != VICI_LIST_ITEM && k[0] != VICI_LIST_END)
			return fail(m, err, errlen, off, "only items may be inside a list");
		*n = (struct vici_node){ .kind = k[0], .parent = list >= 0 ? list : stack[depth],
					 .name = "" };
		switch (k[0]) {
		case VICI_SECTION_START:
			if (depth >= VICI_DEPTH_MAX)
				return fail(m, err, errlen, off, "sections nested too deep");
			if (!read_name(&r, &n->name) || !n->name[0])
				return fail(m, err, errlen, off, "a section's name is cut short");
			stack[++depth] = (int)m->count++;
			break;
		case VICI_SECTION_END:
			if (depth == 0)
				return fail(m, err, errlen, off, "a section ends that never started");
			depth--;
			break;
		case VICI_KEY_VALUE:
			if (!read_name(&r, &n->name) || !n->name[0] ||
			    !read_value(&r, &n->value, &n->vlen))
				return fail(m, err, errlen, off, "a key/value is cut short");
			m->count++;
			break;
		case VICI_LIST_START:
			if (!read_name(&r, &n->name) || !n->name[0])
				return fail(m, err, errlen, off, "a list's name is cut short");
			list = (int)m->count++;
			break;
		case VICI_LIST_ITEM:
			if (list < 0)
				return fail(m, err, errlen, off, "a list item outside a list");
			if (!read_value(&r, &n->value, &n->vlen))
				return fail(m, err, errlen, off, "a list item is cut short");
			m->count++;
			break;
		case VICI_LIST_END:
			if (list < 0)
				return fail(m, err, errlen, off, "a list ends that never started");
			list = -1;
			break;
		default:
			return fail(m, err, errlen, off, "unknown element type");
		}
	}
	if (depth || list >= 0)
		return fail(m, err, errlen, len, "a section or list is not closed");
	return 0;
}

void vici_msg_free(struct vici_msg *m)
{
	free(m->n);
	free(m->text);
	*m = (struct vici_msg){ 0 };
}

int vici_find(const struct vici_msg *m, int parent, const char *name)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->n[i].parent == parent && m->n[i].kind != VICI_LIST_ITEM &&
		    strcmp(m->n[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *vici_str(const struct vici_msg *m, int parent, const char *name)
{
	int i = vici_find(m, parent, name);

	if (i < 0 || m->n[i].kind != VICI_KEY_VALUE || memchr(m->n[i].value, 0, m->n[i].vlen))
		return NULL;
	return m->n[i].value;
}

bool vici_success(const struct vici_msg *m, char *err, size_t errlen)
{
	const char *ok = vici_str(m, -1, "success"), *why = vici_str(m, -1, "errmsg");

	if (ok && strcmp(ok, "yes") == 0)
		return true;
	snprintf(err, errlen, "%s", why && why[0] ? why : ok ? "refused, no reason given"
						      : "an answer without \"success\"");
	return false;
}
