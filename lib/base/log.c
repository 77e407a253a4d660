/* log.c - diagnostics on stderr: "PROG: message", <N> prefixes under journald. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static const char *log_name = "flannel";
static int log_journal;
static int log_level_v;

void log_init(const char *prog, int journal)
{
	const char *slash = prog ? strrchr(prog, '/') : NULL;

	log_name = slash ? slash + 1 : (prog ? prog : "flannel");
	log_journal = journal;
}

void log_set_verbosity(int v) { log_level_v = v; }

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Escape into out (always terminated); bs: escape backslashes too. */
static size_t escape(const char *s, size_t n, bool bs, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0, i = 0;

	if (!len)
		return 0;
	while (i < n) {
		size_t k = utf8_len(u + i, n - i);
		bool raw = k > 1 || (k == 1 && u[i] >= 0x20 && u[i] != 0x7f && (!bs || u[i] != '\\'));

		if (raw) {
			if (o + k + 4 > len)
				break;
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		if (o + 4 + 4 > len)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
		i++;
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

const char *log_escape(const char *s, size_t n, char *buf, size_t len)
{
	escape(s, n, true, buf, len);
	return buf;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char raw[4096], buf[4 * sizeof(raw) + 8];
	int n;

	if (log_level_v < 0) /* nothing at all: the fuzzing harnesses */
		return;
	if (lvl == LOG_LVL_INFO && log_level_v < 1)
		return;
	if (lvl == LOG_LVL_DEBUG && log_level_v < 2)
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	/* Whatever slipped through unescaped cannot forge a line or a terminal. */
	escape(raw, (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1, false, buf,
	       sizeof(buf));
	/* One write per line so that concurrent tools do not interleave. */
	if (log_journal)
		fprintf(stderr, "<%d>%s: %s%s\n", (int)lvl, log_name, buf,
			(size_t)n >= sizeof(buf) ? "..." : "");
	else
		fprintf(stderr, "%s: %s%s\n", log_name, buf,
			(size_t)n >= sizeof(buf) ? "..." : "");
	fflush(stderr);
}

#define LOG_FN(name, lvl)                                                      \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vmsg(lvl, fmt, ap);                                        \
		va_end(ap);                                                    \
	}

LOG_FN(log_err, LOG_LVL_ERR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Printed at every verbosity; priority 5 under journald. */
	log_vmsg((enum log_level)5, fmt, ap);
	va_end(ap);
}
