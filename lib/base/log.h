/* log.h - the only place that prints diagnostics. */
#ifndef FLANNEL_LOG_H
#define FLANNEL_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* prog: name printed before every message; journal: prefix lines with <N>. */
void log_init(const char *prog, int journal);
/* 0: errors, warnings and notices; 1: + info; 2: + debug; -1: nothing. */
void log_set_verbosity(int v);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Notices are printed at verbosity 0: state changes an operator wants to see. */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

/*
 * The one escape for text from outside (etcd keys and values, event lines)
 * before it is logged: n bytes of s (NULs included) into buf, with control
 * bytes, DEL, backslash and bytes that are not UTF-8 as \xNN, "..." when
 * cut short.  Returns buf.  Every message is also passed through the same
 * escape (backslash kept) before it is printed.
 */
const char *log_escape(const char *s, size_t n, char *buf, size_t len);
#define LOG_ESC_MAX 1024

#endif
