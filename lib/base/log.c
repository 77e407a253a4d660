/* log.c - diagnostics on stderr: "PROG: message", <N> prefixes under journald. */
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

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char buf[4096];
	int n;

	if (lvl == LOG_LVL_INFO && log_level_v < 1)
		return;
	if (lvl == LOG_LVL_DEBUG && log_level_v < 2)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
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
