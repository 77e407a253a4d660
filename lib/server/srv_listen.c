/* srv_listen.c - where flannel-server listens: an address it binds, or a
 * socket systemd passed (fd://, fd://N); and its TLS context. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cli.h"
#include "server/srv_conn.h"

/* fd://N: a listening stream socket handed over (N defaults to 3, SD_LISTEN_FDS_START). */
static int adopt(const char *n, int *fd, char *err, size_t errlen)
{
	long v = 3;
	int type = 0, acc = 0;
	socklen_t len = sizeof(type);

	if (*n && cli_long(n, 0, 65535, &v) < 0) {
		snprintf(err, errlen, "fd://%s: not a descriptor number", n);
		return -1;
	}
	if (getsockopt((int)v, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		snprintf(err, errlen, "fd://%ld: %s (not started by socket activation?)", v,
			 strerror(errno));
		return -1;
	}
	len = sizeof(acc);
	if (type != SOCK_STREAM || getsockopt((int)v, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 ||
	    !acc) {
		snprintf(err, errlen, "fd://%ld: not a listening stream socket", v);
		return -1;
	}
	if (fcntl((int)v, F_SETFL, fcntl((int)v, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl((int)v, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "fd://%ld: %s", v, strerror(errno));
		return -1;
	}
	*fd = (int)v;
	return 0;
}

/* [tcp://]HOST:PORT, [V6]:PORT or :PORT (every address). */
static int bind_addr(const char *spec, int *fd, char *err, size_t errlen)
{
	const char *hp = strncmp(spec, "tcp://", 6) == 0 ? spec + 6 : spec;
	const char *colon = strrchr(hp, ':');
	char host[256];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE |
						AI_NUMERICSERV }, *ai = NULL;
	size_t hl;
	long port;
	int s = -1, one = 1, rc;

	if (!colon || cli_long(colon + 1, 0, 65535, &port) < 0) {
		snprintf(err, errlen, "--listen %s: not HOST:PORT, tcp://HOST:PORT or fd://[N]", spec);
		return -1;
	}
	hl = (size_t)(colon - hp);
	if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "--listen %s: host too long", spec);
		return -1;
	}
	memcpy(host, hp, hl);
	host[hl] = '\0';
	rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "--listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 1024) < 0) {
		snprintf(err, errlen, "listen on %s: %s", spec, strerror(errno));
		if (s >= 0)
			close(s);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*fd = s;
	return 0;
}

int srv_listen_open(const char *spec, int *fd, char *err, size_t errlen)
{
	if (strncmp(spec, "fd://", 5) == 0)
		return adopt(spec + 5, fd, err, errlen);
	return bind_addr(spec, fd, err, errlen);
}

static void tls_err(char *err, size_t errlen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char why[256];

	ERR_error_string_n(e, why, sizeof(why));
	snprintf(err, errlen, "%s %s: %s", what, file, e ? why : "failed");
	ERR_clear_error();
}

SSL_CTX *srv_tls_ctx(const char *certfile, const char *keyfile, const char *cafile, char *err,
		     size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		tls_err(err, errlen, "set up TLS", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1) {
		tls_err(err, errlen, "read certificate", certfile);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, keyfile, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_err(err, errlen, "read key", keyfile);
		goto fail;
	}
	if (cafile) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			tls_err(err, errlen, "read CA file", cafile);
			goto fail;
		}
		/* As upstream: a CA file means every client shows a certificate it signed. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}
