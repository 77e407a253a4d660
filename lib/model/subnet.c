/* subnet.c - address and prefix arithmetic, subnet keys. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "model/subnet.h"

int addr_bits(int family)
{
	return family == AF_INET6 ? 128 : 32;
}

static size_t addr_bytes(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

bool addr_is_set(const struct ipaddr *a)
{
	return a->family == AF_INET || a->family == AF_INET6;
}

/* Dotted quad: four decimal fields 0..255, no leading zeros, nothing else. */
static int parse_v4(const char *s, struct ipaddr *a)
{
	unsigned field = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		if (i > 0 && *s++ != '.')
			return -1;
		if (*s == '0' && isdigit((unsigned char)s[1]))
			return -1;
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || v > 255)
				return -1;
		}
		if (!digits)
			return -1;
		a->b[field++] = (uint8_t)v;
	}
	if (*s)
		return -1;
	a->family = AF_INET;
	return 0;
}

static int parse_v6(const char *s, struct ipaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (!strchr(s, ':') || strchr(s, '%'))
		return -1;
	if (inet_pton(AF_INET6, s, &a->v6) != 1)
		return -1;
	a->family = AF_INET6;
	return 0;
}

int addr_parse(const char *s, struct ipaddr *a)
{
	if (!s)
		return -1;
	if (parse_v4(s, a) == 0 || parse_v6(s, a) == 0)
		return 0;
	return -1;
}

int addr_parse_family(const char *s, int family, struct ipaddr *a)
{
	if (addr_parse(s, a) < 0 || a->family != family)
		return -1;
	return 0;
}

bool addr_is_v4_mapped(const struct ipaddr *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return a->family == AF_INET6 && memcmp(a->b, pfx, 12) == 0;
}

/* RFC 5952: lower case, longest run (>= 2) of zero groups as "::", first on ties. */
static void format_v6(const struct ipaddr *a, char *buf, size_t len)
{
	unsigned g[8];
	int best = -1, bestlen = 0;
	size_t off = 0;

	if (addr_is_v4_mapped(a)) {
		snprintf(buf, len, "%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
		return;
	}
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a->b[2 * i] << 8 | a->b[2 * i + 1];
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen && j - i >= 2) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	buf[0] = '\0';
	for (int i = 0; i < 8 && off < len;) {
		int n;

		if (i == best) {
			n = snprintf(buf + off, len - off, "::");
			i += bestlen;
		} else {
			bool sep = i > 0 && i != best + bestlen;

			n = snprintf(buf + off, len - off, "%s%x", sep ? ":" : "", g[i]);
			i++;
		}
		if (n < 0)
			return;
		off += (size_t)n;
	}
}

const char *addr_format(const struct ipaddr *a, char *buf, size_t len)
{
	if (!len)
		return buf;
	if (a->family == AF_INET)
		snprintf(buf, len, "%u.%u.%u.%u", a->b[0], a->b[1], a->b[2], a->b[3]);
	else if (a->family == AF_INET6)
		format_v6(a, buf, len);
	else
		snprintf(buf, len, "<nil>");
	return buf;
}

bool addr_equal(const struct ipaddr *a, const struct ipaddr *b)
{
	return addr_cmp(a, b) == 0;
}

int addr_cmp(const struct ipaddr *a, const struct ipaddr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, addr_bytes(a->family));
}

bool addr_is_unusable(const struct ipaddr *a)
{
	static const uint8_t zero[16];

	if (a->family == AF_INET) {
		uint8_t o = a->b[0];

		return o == 0 || o == 127 || o >= 224 ||
		       (o == 169 && a->b[1] == 254);
	}
	if (a->family == AF_INET6) {
		if (memcmp(a->b, zero, 16) == 0)
			return true;
		if (memcmp(a->b, zero, 15) == 0 && a->b[15] == 1)
			return true;
		if (a->b[0] == 0xff)
			return true;
		if (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80)
			return true;
		return addr_is_v4_mapped(a);
	}
	return true;
}

bool addr_add(struct ipaddr *a, int64_t n)
{
	int i = (int)addr_bytes(a->family) - 1;
	int carry;
	uint64_t mag = n < 0 ? (uint64_t)(-(n + 1)) + 1 : (uint64_t)n;

	if (n >= 0) {
		carry = 0;
		for (; i >= 0; i--) {
			unsigned v = a->b[i] + (unsigned)(mag & 0xff) + (unsigned)carry;

			a->b[i] = (uint8_t)v;
			carry = v > 0xff;
			mag >>= 8;
			if (!mag && !carry)
				return true;
		}
		return false;
	}
	carry = 0;
	for (; i >= 0; i--) {
		int v = (int)a->b[i] - (int)(mag & 0xff) - carry;

		carry = v < 0;
		a->b[i] = (uint8_t)(v + (carry ? 256 : 0));
		mag >>= 8;
		if (!mag && !carry)
			return true;
	}
	return false;
}

void prefix_mask(struct prefix *p)
{
	unsigned bits = (unsigned)addr_bits(p->addr.family);

	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned keep = p->len > i * 8 ? p->len - i * 8 : 0;

		if (keep < 8)
			p->addr.b[i] &= (uint8_t)(0xff00 >> keep);
	}
}

bool addr_is_aligned(const struct ipaddr *a, unsigned len)
{
	struct prefix p = { .addr = *a, .len = len };

	prefix_mask(&p);
	return addr_equal(&p.addr, a);
}

static int prefix_parse_common(const char *s, struct prefix *p, bool strict)
{
	char buf[ADDR_STRLEN];
	const char *slash;
	unsigned long len = 0;
	size_t alen;
	const char *d;

	if (!s || !(slash = strchr(s, '/')))
		return -1;
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (addr_parse(buf, &p->addr) < 0)
		return -1;
	d = slash + 1;
	if (!*d || strlen(d) > 3)
		return -1;
	for (; *d; d++) {
		if (!isdigit((unsigned char)*d))
			return -1;
		len = len * 10 + (unsigned long)(*d - '0');
	}
	if (len > (unsigned long)addr_bits(p->addr.family))
		return -1;
	p->len = (unsigned)len;
	if (strict && !addr_is_aligned(&p->addr, p->len))
		return -1;
	prefix_mask(p);
	return 0;
}

int prefix_parse(const char *s, struct prefix *p)
{
	return prefix_parse_common(s, p, false);
}

int prefix_parse_strict(const char *s, struct prefix *p)
{
	return prefix_parse_common(s, p, true);
}

const char *prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char a[ADDR_STRLEN];

	snprintf(buf, len, "%s/%u", addr_format(&p->addr, a, sizeof(a)), p->len);
	return buf;
}

bool prefix_contains_addr(const struct prefix *net, const struct ipaddr *a)
{
	struct prefix t = { .addr = *a, .len = net->len };

	if (a->family != net->addr.family)
		return false;
	prefix_mask(&t);
	return addr_equal(&t.addr, &net->addr);
}

bool prefix_contains(const struct prefix *net, const struct prefix *sub)
{
	return sub->len >= net->len && prefix_contains_addr(net, &sub->addr);
}

bool prefix_overlaps(const struct prefix *a, const struct prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	return a->len == b->len && addr_equal(&a->addr, &b->addr);
}

bool prefix_next(struct prefix *p)
{
	int byte, carry = 1;
	unsigned bit;

	if (p->len == 0)
		return false;
	/* Add 1 at bit position len-1 (counted from the most significant bit). */
	byte = (int)((p->len - 1) / 8);
	bit = 7 - (p->len - 1) % 8;
	for (int i = byte; i >= 0 && carry; i--) {
		unsigned v = p->addr.b[i] + (i == byte ? (1u << bit) : 1u);

		p->addr.b[i] = (uint8_t)v;
		carry = v > 0xff;
	}
	return !carry;
}

void prefix_last_addr(const struct prefix *p, struct ipaddr *out)
{
	unsigned bits = (unsigned)addr_bits(p->addr.family);

	*out = p->addr;
	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned keep = p->len > i * 8 ? p->len - i * 8 : 0;

		if (keep < 8)
			out->b[i] |= (uint8_t)(0xff >> keep);
	}
}

void prefix_first_host(const struct prefix *p, struct ipaddr *out)
{
	*out = p->addr;
	addr_add(out, 1);
}

int subnet_check_remote(const struct prefix *s, const struct prefix *own, const struct prefix *net,
			char *err, size_t errlen)
{
	char b[ADDR_STRLEN];
	const char *why = NULL;

	if (!addr_is_set(&s->addr))
		why = "is not an address";
	else if (s->len == 0)
		why = "would replace the default route";
	else if (addr_is_v4_mapped(&s->addr))
		why = "is an IPv4-mapped IPv6 prefix";
	else if (net && net->addr.family == s->addr.family && !prefix_contains(net, s))
		why = "is outside the network";
	else if (net && net->addr.family == s->addr.family && s->len <= net->len)
		why = "is the whole network";
	else if (own && own->addr.family == s->addr.family && prefix_overlaps(own, s))
		why = "overlaps our own subnet";
	if (!why)
		return 0;
	snprintf(err, errlen, "subnet %s %s", prefix_format(s, b, sizeof(b)), why);
	return -1;
}

int peer_check_remote(const struct prefix *s, const struct ipaddr *pub, const struct prefix *own,
		      const struct prefix *net, char *err, size_t errlen)
{
	char b[ADDR_STRLEN];

	if (subnet_check_remote(s, own, net, err, errlen) < 0)
		return -1;
	if (pub->family == s->addr.family && !addr_is_unusable(pub))
		return 0;
	snprintf(err, errlen, "public IP%s %s is not usable",
		 s->addr.family == AF_INET6 ? "v6" : "",
		 pub->family ? addr_format(pub, b, sizeof(b)) : "(none)");
	return -1;
}

void subnet_lens_add(struct subnet_lens *l, const struct prefix *p)
{
	l->bits[p->addr.family == AF_INET6][p->len / 64 % 3] |= 1ULL << (p->len % 64);
}

int subnet_check_peers(const struct prefix *s, const struct subnet_lens *lens,
		       bool (*known)(void *arg, const struct prefix *q), void *arg, char *err,
		       size_t errlen)
{
	unsigned bits = (unsigned)addr_bits(s->addr.family);
	bool v6 = s->addr.family == AF_INET6;
	char b[ADDR_STRLEN], o[ADDR_STRLEN];

	/* The set bits only, shortest first (the widest lease is named). */
	for (unsigned w = 0; w < 3; w++) {
		uint64_t m = lens ? lens->bits[v6][w] : ~0ULL;

		for (; m; m &= m - 1) {
			unsigned len = w * 64 + (unsigned)__builtin_ctzll(m);
			struct prefix q = { .addr = s->addr, .len = len };

			if (len > bits)
				return 0;
			if (len == 0 || len == s->len)
				continue;
			if (len < s->len)
				prefix_mask(&q);
			if (known(arg, &q)) {
				snprintf(err, errlen, "subnet %s overlaps the lease of %s",
					 prefix_format(s, b, sizeof(b)),
					 prefix_format(&q, o, sizeof(o)));
				return -1;
			}
		}
	}
	return 0;
}

int subnet_key_format(const struct prefix *v4, const struct prefix *v6, char *buf, size_t len)
{
	char a4[ADDR_STRLEN] = "0.0.0.0", a6[ADDR_STRLEN];
	unsigned l4 = 0;
	int n;

	if (v4 && v4->addr.family == AF_INET) {
		addr_format(&v4->addr, a4, sizeof(a4));
		l4 = v4->len;
	}
	if (v6 && v6->addr.family == AF_INET6)
		n = snprintf(buf, len, "%s-%u&%s-%u", a4, l4,
			     addr_format(&v6->addr, a6, sizeof(a6)), v6->len);
	else
		n = snprintf(buf, len, "%s-%u", a4, l4);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Digits only, value <= max. */
static int parse_len(const char *s, size_t n, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* The leaf's bytes, not its C string: a NUL or anything after the grammar fails. */
int subnet_key_parse_n(const char *leaf, size_t n, struct prefix *v4, struct prefix *v6)
{
	char buf[KEY_STRLEN], canon[KEY_STRLEN];
	char *amp, *dash;

	memset(v4, 0, sizeof(*v4));
	memset(v6, 0, sizeof(*v6));
	if (n == 0 || n >= sizeof(buf) || memchr(leaf, '\0', n))
		return -1;
	memcpy(buf, leaf, n);
	buf[n] = '\0';
	amp = strchr(buf, '&');
	if (amp) {
		*amp++ = '\0';
		dash = strrchr(amp, '-');
		if (!dash)
			return -1;
		*dash = '\0';
		for (const char *c = amp; *c; c++)
			if (!strchr("0123456789abcdef:", *c))
				return -1;
		/* Upstream parses the v6 length with bit size 7: 0..127. */
		if (parse_v6(amp, &v6->addr) < 0 || addr_is_v4_mapped(&v6->addr) ||
		    parse_len(dash + 1, strlen(dash + 1), 127, &v6->len) < 0 ||
		    !addr_is_aligned(&v6->addr, v6->len))
			goto bad;
	}
	dash = strrchr(buf, '-');
	if (!dash)
		goto bad;
	*dash = '\0';
	/* Upstream parses the v4 length with bit size 5: 0..31. */
	if (parse_v4(buf, &v4->addr) < 0 ||
	    parse_len(dash + 1, strlen(dash + 1), 31, &v4->len) < 0 ||
	    !addr_is_aligned(&v4->addr, v4->len))
		goto bad;
	/* An IPv6-only key carries "0.0.0.0-0" as its IPv4 part. */
	if (v4->len == 0) {
		if (!amp)
			goto bad;
		memset(v4, 0, sizeof(*v4));
	}
	/* Exactly the form upstream writes, byte for byte: one key per subnet.
	 * parse_v4 and parse_len take only that form (no leading zeros, nothing
	 * after the length); IPv6 has many spellings: compare with the one. */
	if (amp && (subnet_key_format(v4, v6, canon, sizeof(canon)) < 0 ||
		    strlen(canon) != n || memcmp(canon, leaf, n) != 0))
		goto bad;
	return 0;
bad:
	memset(v4, 0, sizeof(*v4));
	memset(v6, 0, sizeof(*v6));
	return -1;
}

int subnet_key_parse(const char *key, struct prefix *v4, struct prefix *v6)
{
	const char *base = strrchr(key, '/');

	base = base ? base + 1 : key;
	return subnet_key_parse_n(base, strlen(base), v4, v6);
}

int subnet_key_of(const char *dir, const char *key, size_t keylen, struct prefix *v4,
		  struct prefix *v6)
{
	size_t n = strlen(dir);

	memset(v4, 0, sizeof(*v4));
	memset(v6, 0, sizeof(*v6));
	if (keylen <= n || memcmp(key, dir, n) != 0)
		return -1;
	return subnet_key_parse_n(key + n, keylen - n, v4, v6);
}
