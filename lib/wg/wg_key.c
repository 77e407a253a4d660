/* wg_key.c - the private key file as upstream keeps it (standard base64 of
 * 32 bytes, no newline, mode 0400, made when missing) and its public key
 * (X25519 with OpenSSL's EVP API). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wg/wg.h"

int wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WG_KEY_LEN);
	size_t len = WG_KEY_LEN;
	int rc;

	if (!k)
		return -1;
	rc = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == WG_KEY_LEN ? 0 : -1;
	EVP_PKEY_free(k);
	return rc;
}

/* mkdir -p of path's parent, 0755. */
static int make_parents(const char *path)
{
	char dir[512];
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return -1;
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int create_key(const char *path, uint8_t priv[WG_KEY_LEN], char *err, size_t errlen)
{
	char b64[WG_KEY_B64_LEN + 1];
	int fd;

	if (getrandom(priv, WG_KEY_LEN, 0) != WG_KEY_LEN) {
		snprintf(err, errlen, "make a key: getrandom: %s", strerror(errno));
		return -1;
	}
	/* Curve25519 clamping, as wg genkey. */
	priv[0] &= 248;
	priv[31] = (uint8_t)((priv[31] & 127) | 64);
	if (make_parents(path) < 0) {
		snprintf(err, errlen, "create the directories of %s: %s", path, strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0) {
		snprintf(err, errlen, "create %s: %s", path, strerror(errno));
		return -1;
	}
	wg_key_to_base64(priv, b64);
	if (fchmod(fd, 0400) < 0 || write(fd, b64, WG_KEY_B64_LEN) != WG_KEY_B64_LEN ||
	    fsync(fd) < 0) {
		snprintf(err, errlen, "write %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	explicit_bzero(b64, sizeof(b64));
	return close(fd) < 0 ? -1 : 0;
}

int wg_key_load(const char *path, uint8_t priv[WG_KEY_LEN], bool *created, char *err,
		size_t errlen)
{
	char buf[128];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*created = false;
	if (fd < 0 && errno == ENOENT) {
		*created = true;
		return create_key(path, priv, err, errlen);
	}
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if (wg_key_from_base64(buf, priv) < 0) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen, "%s: not the base64 of a 32-byte WireGuard key", path);
		return -1;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
