/* base64.h - the encoding the etcd JSON gateway uses for keys and values. */
#ifndef FLANNEL_BASE64_H
#define FLANNEL_BASE64_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated string, or NULL on ENOMEM. */
char *base64_encode(const void *data, size_t len);
/* Returns a malloc'd buffer (NUL-terminated for convenience) with its length
 * in *out_len, or NULL when the input is not base64 or on ENOMEM. */
char *base64_decode(const char *s, size_t len, size_t *out_len);

#endif
