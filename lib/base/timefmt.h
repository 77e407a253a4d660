/* timefmt.h - RFC 3339 UTC timestamps and monotonic clocks. */
#ifndef FLANNEL_TIMEFMT_H
#define FLANNEL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

const char *time_format_utc(time_t t, char *buf, size_t len);
int time_parse_utc(const char *s, time_t *t);
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t mono_ms(void);
/* "30s", "5m", "2h", "250ms" or plain seconds; -1 when invalid. */
int64_t duration_parse_ms(const char *s);

#endif
