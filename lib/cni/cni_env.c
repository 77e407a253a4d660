/* cni_env.c - subnet.env as the CNI plugin reads it: upstream's
 * loadFlannelSubnetEnv, line by line with Go's parsing of numbers and CIDRs. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "cni/cni_env.h"
#include "cni/cni_json.h"

/* bufio.Scanner's MaxScanTokenSize: a longer line is an error upstream. */
#define SCAN_MAX 65536
/* subnet.env is a few hundred bytes; refuse anything absurd. */
#define ENV_FILE_MAX (16u << 20)
#define WAIT_STEP_MS 50

const char *cni_strerror(int errnum, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(errnum));
	if (len && buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

void cni_env_free(struct cni_env *e)
{
	free(e->nets);
	free(e->nets6);
	memset(e, 0, sizeof(*e));
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int cni_cidr_parse(const char *s, size_t n, bool mask, struct prefix *p)
{
	char addr[ADDR_STRLEN];
	const char *slash = memchr(s, '/', n);
	unsigned long len = 0;
	size_t alen;

	if (!slash || memchr(s, '\0', n))
		return -1;
	alen = (size_t)(slash - s);
	if (alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (addr_parse(addr, &p->addr) < 0)
		return -1;
	/* Go's dtoi: decimal digits, leading zeros allowed, at least one. */
	if (slash + 1 == s + n)
		return -1;
	for (const char *d = slash + 1; d < s + n; d++) {
		if (!isdigit((unsigned char)*d))
			return -1;
		len = len * 10 + (unsigned long)(*d - '0');
		if (len > 0xffffff)
			return -1;
	}
	if (len > (unsigned long)addr_bits(p->addr.family))
		return -1;
	p->len = (unsigned)len;
	if (mask)
		prefix_mask(p);
	if (p->addr.family == AF_INET6 && memcmp(p->addr.b, v4mapped, 12) == 0) {
		/* Go prints a v4-mapped network as IPv4 with the low 32 mask bits. */
		memmove(p->addr.b, p->addr.b + 12, 4);
		memset(p->addr.b + 4, 0, 12);
		p->addr.family = AF_INET;
		p->len = p->len >= 96 ? p->len - 96 : 0;
	}
	return 0;
}

int cni_parse_uint32(const char *s, size_t n, unsigned *v, char *err, size_t errlen)
{
	uint64_t acc = 0;
	const char *why = NULL;
	struct buf q = { 0 };

	for (size_t i = 0; i < n && !why; i++) {
		if (!isdigit((unsigned char)s[i]))
			why = "invalid syntax";
		else if ((acc = acc * 10 + (uint64_t)(s[i] - '0')) > 0xffffffffu)
			why = "value out of range";
	}
	if (!n)
		why = "invalid syntax";
	if (!why) {
		*v = (unsigned)acc;
		return 0;
	}
	cni_json_quote(&q, s, n);
	snprintf(err, errlen, "strconv.ParseUint: parsing %s: %s", q.data ? q.data : "\"\"", why);
	buf_free(&q);
	return -1;
}

static bool prefix_in(const struct prefix *list, size_t n, const struct prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].addr.family == p->addr.family && prefix_equal(&list[i], p))
			return true;
	return false;
}

static int cidr_error(const char *s, size_t n, char *err, size_t errlen)
{
	snprintf(err, errlen, "invalid CIDR address: %.*s", (int)(n > 512 ? 512 : n), s);
	return -1;
}

/* FLANNEL_NETWORK=a,b: the whole list is replaced; exact duplicates dropped. */
static int parse_net_list(const char *v, size_t n, struct prefix **list, size_t *count,
			  char *err, size_t errlen)
{
	size_t items = 1, k = 0;
	struct prefix *out;
	const char *p = v, *end = v + n;

	for (size_t i = 0; i < n; i++)
		items += v[i] == ',';
	out = fl_calloc(items, sizeof(*out));
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t ilen = (size_t)((c ? c : end) - p);
		struct prefix pf;

		if (cni_cidr_parse(p, ilen, true, &pf) < 0) {
			free(out);
			return cidr_error(p, ilen, err, errlen);
		}
		if (!prefix_in(out, k, &pf))
			out[k++] = pf;
		if (!c)
			break;
		p = c + 1;
	}
	free(*list);
	*list = out;
	*count = k;
	return 0;
}

static int parse_line(const char *line, size_t n, unsigned long lineno, const char *path,
		      struct cni_env *e, char *err, size_t errlen)
{
	static const char *const keys[] = { "FLANNEL_NETWORK", "FLANNEL_SUBNET",
					    "FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET",
					    "FLANNEL_MTU", "FLANNEL_IPMASQ" };
	const char *eq = memchr(line, '=', n);
	size_t klen = eq ? (size_t)(eq - line) : n, vlen = eq ? n - klen - 1 : 0;
	const char *v = eq ? eq + 1 : NULL;
	int k = -1;

	for (int i = 0; i < 6; i++)
		if (strlen(keys[i]) == klen && memcmp(keys[i], line, klen) == 0)
			k = i;
	if (k < 0)
		return 0;
	if (!eq) {
		/* Upstream's Go code panics here; say what is wrong instead. */
		snprintf(err, errlen, "%s: line %lu: %s has no value", path, lineno, keys[k]);
		return -1;
	}
	switch (k) {
	case 0:
		return parse_net_list(v, vlen, &e->nets, &e->n_nets, err, errlen);
	case 2:
		return parse_net_list(v, vlen, &e->nets6, &e->n_nets6, err, errlen);
	case 1:
	case 3:
		if (cni_cidr_parse(v, vlen, true, k == 1 ? &e->sn : &e->sn6) < 0)
			return cidr_error(v, vlen, err, errlen);
		return 0;
	case 4:
		if (cni_parse_uint32(v, vlen, &e->mtu, err, errlen) < 0)
			return -1;
		e->has_mtu = true;
		return 0;
	default:
		e->ipmasq = vlen == 4 && memcmp(v, "true", 4) == 0;
		e->has_ipmasq = true;
		return 0;
	}
}

static int check_missing(const struct cni_env *e, const char *path, char *err, size_t errlen)
{
	struct buf m = { 0 };

	if (!e->n_nets && !e->n_nets6)
		buf_str(&m, ", FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK");
	if (!e->sn.addr.family && !e->sn6.addr.family)
		buf_str(&m, ", FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET");
	if (!e->has_mtu)
		buf_str(&m, ", FLANNEL_MTU");
	if (!e->has_ipmasq)
		buf_str(&m, ", FLANNEL_IPMASQ");
	if (!m.len && !m.failed)
		return 0;
	if (m.failed)
		snprintf(err, errlen, "out of memory");
	else
		snprintf(err, errlen, "%s is missing %s", path, m.data + 2);
	buf_free(&m);
	return -1;
}

int cni_env_parse(const char *buf, size_t len, const char *path, struct cni_env *e,
		  char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	unsigned long lineno = 0;

	memset(e, 0, sizeof(*e));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		lineno++;
		if (n >= SCAN_MAX) {
			snprintf(err, errlen, "bufio.Scanner: token too long");
			goto fail;
		}
		if (n && p[n - 1] == '\r')
			n--;
		if (parse_line(p, n, lineno, path, e, err, errlen) < 0)
			goto fail;
		p = nl ? nl + 1 : end;
	}
	if (check_missing(e, path, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	cni_env_free(e);
	return -1;
}

/* Read the whole file; -1 with errno and the Go-style verb in *op. */
static char *read_file(const char *path, size_t *len, const char **op)
{
	struct buf b = { 0 };
	char chunk[4096];
	int fd, saved;
	ssize_t n;

	*op = "open";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	*op = "read";
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > ENV_FILE_MAX) {
			saved = n < 0 ? errno : EFBIG;
			goto fail;
		}
		buf_add(&b, chunk, (size_t)n);
		if (b.failed) {
			saved = ENOMEM;
			goto fail;
		}
	}
	close(fd);
	*len = b.len;
	return buf_take(&b);
fail:
	close(fd);
	buf_free(&b);
	errno = saved;
	return NULL;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cni_env_load(const char *path, int64_t wait_ms, struct cni_env *e, char *err,
		 size_t errlen)
{
	int64_t deadline = mono_ms() + wait_ms;
	const char *op;
	char *buf, why[128];
	size_t len = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	/* flanneld may not have written the file yet (upstream flannel#2437). */
	if (!*path)
		wait_ms = 0; /* "subnetFile": "" can never appear */
	while (!(buf = read_file(path, &len, &op)) && errno == ENOENT && wait_ms > 0 &&
	       mono_ms() < deadline) {
		int64_t left = deadline - mono_ms();

		sleep_ms(left < WAIT_STEP_MS ? (left > 0 ? left : 1) : WAIT_STEP_MS);
	}
	if (!buf) {
		int saved = errno;

		cni_strerror(saved, why, sizeof(why));
		if (saved == ENOENT && wait_ms > 0)
			snprintf(err, errlen,
				 "%s %s: %s (waited %lld ms: flanneld has not written it yet; "
				 "is flanneld running on this node? see its log, e.g. "
				 "journalctl -u flanneld or the kube-flannel pod)",
				 op, path, why, (long long)wait_ms);
		else
			snprintf(err, errlen, "%s %s: %s", op, path, why);
		return -1;
	}
	rc = cni_env_parse(buf, len, path, e, err, errlen);
	free(buf);
	return rc;
}
