/* wg_uapi.c - the cross-platform userspace API (wireguard.com/xplatform):
 * a unix socket per device, "get=1" and "set=1" requests of key=value
 * lines (keys in hex) ended by a blank line, answered with "errno=N". */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hex.h"
#include "base/mem.h"
#include "wg/wg.h"

/* The longest answer read: a few thousand peers. */
#define UAPI_MAX (4u << 20)
#define UAPI_TIMEOUT_MS 5000

static long num(const char *s)
{
	return strtol(s, NULL, 10);
}

static void hex_key(struct buf *b, const char *name, const uint8_t k[WG_KEY_LEN])
{
	buf_printf(b, "%s=", name);
	for (int i = 0; i < WG_KEY_LEN; i++)
		buf_printf(b, "%02x", k[i]);
	buf_str(b, "\n");
}

static int parse_hex_key(const char *s, uint8_t k[WG_KEY_LEN])
{
	if (strlen(s) != 2 * WG_KEY_LEN)
		return -1;
	for (int i = 0; i < WG_KEY_LEN; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		k[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

char *wg_uapi_format_set(const struct wg_device *d)
{
	struct buf b = { 0 };
	char a[ADDR_STRLEN];

	buf_str(&b, "set=1\n");
	if (d->has_priv)
		hex_key(&b, "private_key", d->priv);
	if (d->port)
		buf_printf(&b, "listen_port=%u\n", d->port);
	if (d->replace_peers)
		buf_str(&b, "replace_peers=true\n");
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct wg_peer *p = &d->peers[i];

		hex_key(&b, "public_key", p->pub);
		if (p->remove) {
			buf_str(&b, "remove=true\n");
			continue;
		}
		if (p->has_psk)
			hex_key(&b, "preshared_key", p->psk);
		if (p->endpoint.family)
			buf_printf(&b, p->endpoint.family == AF_INET6 ? "endpoint=[%s]:%u\n" :
									"endpoint=%s:%u\n",
				   addr_format(&p->endpoint, a, sizeof(a)), p->endpoint_port);
		buf_printf(&b, "persistent_keepalive_interval=%u\n", p->keepalive);
		if (p->replace_allowed)
			buf_str(&b, "replace_allowed_ips=true\n");
		for (int j = 0; j < p->n_allowed; j++)
			buf_printf(&b, "allowed_ip=%s\n", prefix_format(&p->allowed[j], a, sizeof(a)));
	}
	buf_str(&b, "\n");
	return buf_take(&b);
}

static int parse_endpoint(char *v, struct wg_peer *p)
{
	char *colon = strrchr(v, ':'), *host = v, *end;
	unsigned long port;

	if (!colon)
		return -1;
	*colon = '\0';
	if (host[0] == '[') {
		host++;
		if (colon[-1] != ']')
			return -1;
		colon[-1] = '\0';
	}
	port = strtoul(colon + 1, &end, 10);
	if (*end || port > 65535 || addr_parse(host, &p->endpoint) < 0)
		return -1;
	p->endpoint_port = (uint16_t)port;
	return 0;
}

int wg_uapi_parse_get(const char *text, struct wg_device *out, int *errno_out, char *err,
		      size_t errlen)
{
	char *copy = fl_strdup(text), *line, *save = NULL;
	struct wg_peer *p = NULL;
	int rc = -1;

	*errno_out = -1;
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		int bad = 0;

		if (!v) {
			snprintf(err, errlen, "line without '=': %.40s", line);
			goto out;
		}
		*v++ = '\0';
		if (!strcmp(line, "errno")) {
			*errno_out = (int)num(v);
			rc = 0;
			break;
		} else if (!strcmp(line, "private_key")) {
			bad = parse_hex_key(v, out->priv);
			out->has_priv = !bad;
		} else if (!strcmp(line, "listen_port")) {
			out->port = (uint16_t)(int)num(v);
		} else if (!strcmp(line, "public_key")) {
			p = wg_device_add_peer(out);
			bad = !p || parse_hex_key(v, p->pub);
		} else if (!p) {
			continue; /* fwmark and device keys we do not use */
		} else if (!strcmp(line, "preshared_key")) {
			bad = parse_hex_key(v, p->psk);
			p->has_psk = true;
		} else if (!strcmp(line, "endpoint")) {
			bad = parse_endpoint(v, p);
		} else if (!strcmp(line, "persistent_keepalive_interval")) {
			p->keepalive = (uint16_t)(int)num(v);
		} else if (!strcmp(line, "last_handshake_time_sec")) {
			p->last_handshake = strtoll(v, NULL, 10);
		} else if (!strcmp(line, "rx_bytes")) {
			p->rx_bytes = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "tx_bytes")) {
			p->tx_bytes = strtoull(v, NULL, 10);
		} else if (!strcmp(line, "allowed_ip")) {
			if (p->n_allowed < WG_MAX_ALLOWED)
				bad = prefix_parse(v, &p->allowed[p->n_allowed++]);
		}
		if (bad) {
			snprintf(err, errlen, "bad value of %s", line);
			goto out;
		}
	}
	if (rc < 0)
		snprintf(err, errlen, "answer without errno=");
out:
	explicit_bzero(copy, strlen(text));
	free(copy);
	return rc;
}

/* One request, the answer until its blank line. */
static char *talk(const char *sock, const char *req, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct buf b = { .max = UAPI_MAX };
	size_t len = strlen(req), off = 0;
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", sock);
		return NULL;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect %s: %s", sock, strerror(errno));
		goto fail;
	}
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "write %s: %s", sock, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (b.len >= 2 && memcmp(b.data + b.len - 2, "\n\n", 2) == 0)
			break;
		if (poll(&pf, 1, UAPI_TIMEOUT_MS) == 0) {
			snprintf(err, errlen, "read %s: no answer in %d ms", sock, UAPI_TIMEOUT_MS);
			goto fail;
		}
		if (buf_reserve(&b, 4096) < 0) {
			snprintf(err, errlen, "read %s: answer too long or out of memory", sock);
			goto fail;
		}
		n = read(fd, b.data + b.len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "read %s: %s", sock, n ? strerror(errno) : "closed early");
			goto fail;
		}
		buf_commit(&b, (size_t)n);
	}
	close(fd);
	buf_str(&b, "");
	return buf_take(&b);
fail:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return NULL;
}

int wg_uapi_get(const char *sock, struct wg_device *out, char *err, size_t errlen)
{
	char *ans = talk(sock, "get=1\n\n", err, errlen), e[160];
	int en, rc;

	if (!ans)
		return -EIO;
	rc = wg_uapi_parse_get(ans, out, &en, e, sizeof(e));
	explicit_bzero(ans, strlen(ans));
	free(ans);
	if (rc < 0) {
		snprintf(err, errlen, "%s: get: %s", sock, e);
		return -EPROTO;
	}
	if (en) {
		snprintf(err, errlen, "%s: get: errno=%d", sock, en);
		return en > 0 ? -en : -EIO;
	}
	return 0;
}

int wg_uapi_set(const char *sock, const struct wg_device *d, char *err, size_t errlen)
{
	char *req = wg_uapi_format_set(d), *ans;
	int en = -1;

	if (!req) {
		snprintf(err, errlen, "%s: set: out of memory", sock);
		return -ENOMEM;
	}
	ans = talk(sock, req, err, errlen);
	explicit_bzero(req, strlen(req));
	free(req);
	if (!ans)
		return -EIO;
	if (strncmp(ans, "errno=", 6) == 0)
		en = (int)num(ans + 6);
	free(ans);
	if (en) {
		snprintf(err, errlen, "%s: set refused: errno=%d", sock, en);
		return en > 0 ? -en : -EPROTO;
	}
	return 0;
}
