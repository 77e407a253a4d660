/* wg_keytext.c - WireGuard keys as text (standard base64 of 32 bytes), apart
 * from wg_key.c so that what only checks a key (flanneld's Backend.PSK)
 * does not link OpenSSL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "wg/wg.h"

void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char *buf)
{
	char *s = base64_encode(key, WG_KEY_LEN);

	snprintf(buf, WG_KEY_B64_LEN + 1, "%s", s ? s : "");
	free(s);
}

int wg_key_from_base64(const char *s, uint8_t key[WG_KEY_LEN])
{
	char clean[WG_KEY_B64_LEN + 1], *out;
	size_t n = 0, len = 0;

	/* As Go's decoder: \r and \n are skipped (a file from wg genkey). */
	for (; *s; s++) {
		if (*s == '\n' || *s == '\r')
			continue;
		if (n == WG_KEY_B64_LEN)
			return -1;
		clean[n++] = *s;
	}
	clean[n] = '\0';
	out = base64_decode(clean, n, &len);
	if (!out || len != WG_KEY_LEN) {
		free(out);
		return -1;
	}
	memcpy(key, out, WG_KEY_LEN);
	explicit_bzero(out, len);
	free(out);
	return 0;
}
