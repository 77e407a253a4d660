/* cni_json.h - JSON read and written the way Go's encoding/json does it.
 *
 * The CNI plugin must be indistinguishable from upstream's Go plugin: same
 * syntax error texts, numbers decoded as float64, map keys sorted, strings
 * escaped HTML-safe.  Values are jansson values; all parsed numbers are reals.
 */
#ifndef FLANNEL_CNI_JSON_H
#define FLANNEL_CNI_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/*
 * Parse like json.Unmarshal into interface{}: Go's syntax error texts
 * ("invalid character 'b' looking for beginning of object key string"),
 * invalid UTF-8 replaced by U+FFFD, a repeated key keeps its last value
 * (moved to the end, so members stay in order of last occurrence).
 * Returns 0, or -1 with err set ("out of memory" on allocation failure).
 */
int cni_json_parse(const char *buf, size_t len, json_t **out, char *err, size_t errlen);
/*
 * The same, and when the value is an object, *members lists its members in
 * document order as [key, value] pairs, repeated keys included: what Go's
 * decoder sees when it fills a struct.  *members is an array (empty when
 * the value is not an object) to json_decref.
 */
int cni_json_parse_members(const char *buf, size_t len, json_t **out, json_t **members,
			   char *err, size_t errlen);

enum {
	CJ_SORT = 1,   /* sort object keys by bytes, as Go does for maps */
	CJ_INDENT = 2, /* json.MarshalIndent(v, "", "    ") */
};
/* Serialize as json.Marshal does.  NULL on allocation failure, or when v
 * is NULL (EINVAL: building it failed). */
char *cni_json_dump(const json_t *v, int flags, size_t *len);

/* Go's float64 text: shortest round-trip digits, exponent only outside 1e-6..1e21. */
void cni_json_float(double d, char *buf, size_t len);
/* Go's strconv.Quote (the %q verb), appended to b. */
void cni_json_quote(struct buf *b, const char *s, size_t n);
/* Go's json error name of a value's kind: "string", "number", "object"... */
const char *cni_json_kind(const json_t *v);

#endif
