/* etcd_curl.c - the https:// transport: libcurl behind the etcd_tx
 * interface, loaded with dlopen only when an https:// endpoint is
 * configured: a process that talks plain http never maps it. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "etcd/etcd.h"
#include "etcd/etcd_tx.h"

#define CURL_LIB "libcurl.so.4"

/* The handful of libcurl calls we use, resolved from the loaded library. */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
} cu;
static bool cu_loaded;

#define SYM(field, name) { (void **)&cu.field, name }

static int curl_load(char *err, size_t errlen)
{
	const struct { void **slot; const char *name; } syms[] = {
		SYM(global_init, "curl_global_init"), SYM(easy_init, "curl_easy_init"),
		SYM(easy_cleanup, "curl_easy_cleanup"), SYM(easy_reset, "curl_easy_reset"),
		SYM(easy_setopt, "curl_easy_setopt"), SYM(easy_perform, "curl_easy_perform"),
		SYM(easy_getinfo, "curl_easy_getinfo"),
		SYM(easy_strerror, "curl_easy_strerror"),
		SYM(slist_append, "curl_slist_append"),
		SYM(slist_free_all, "curl_slist_free_all"), SYM(multi_init, "curl_multi_init"),
		SYM(multi_cleanup, "curl_multi_cleanup"),
		SYM(multi_add_handle, "curl_multi_add_handle"),
		SYM(multi_remove_handle, "curl_multi_remove_handle"),
		SYM(multi_perform, "curl_multi_perform"), SYM(multi_poll, "curl_multi_poll"),
		SYM(multi_info_read, "curl_multi_info_read"),
	};
	void *lib;

	if (cu_loaded)
		return ETCD_OK;
	/* Never closed: libcurl keeps global state (OpenSSL) for the process. */
	lib = dlopen(CURL_LIB, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(err, errlen, "https:// endpoints need " CURL_LIB ": %s", dlerror());
		return ETCD_ERR_UNAVAILABLE;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(lib, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(err, errlen, CURL_LIB " has no %s (too old?)", syms[i].name);
			return ETCD_ERR_UNAVAILABLE;
		}
	}
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise " CURL_LIB);
		return ETCD_ERR_UNAVAILABLE;
	}
	cu_loaded = true;
	return ETCD_OK;
}

struct tx_curl {
	struct etcd_tx base;
	CURL *h;                    /* made on the first request */
	char *url;
	long timeout_ms;
	const struct etcd_tls *tls;
};

struct stream_curl {
	struct etcd_stream base;
	CURL *h;
	CURLM *m;
	struct curl_slist *hdrs;
	http_body_cb cb;
	void *arg;
	bool stopped;
};

static size_t buf_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;

	/* A short count makes curl report a write error. */
	return buf_add(arg, ptr, n) == 0 ? n : 0;
}

/* Options every handle gets: TLS, timeouts, headers. */
static int setup_handle(const struct tx_curl *t, CURL *h, const char *auth,
			struct curl_slist **hdrs, bool stream)
{
	char line[600];
	struct curl_slist *l;

	cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->timeout_ms);
	if (!stream)
		cu.easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	cu.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	cu.easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
	cu.easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	if (t->tls->cafile)
		cu.easy_setopt(h, CURLOPT_CAINFO, t->tls->cafile);
	if (t->tls->certfile) {
		cu.easy_setopt(h, CURLOPT_SSLCERT, t->tls->certfile);
		cu.easy_setopt(h, CURLOPT_SSLKEY, t->tls->keyfile);
	}
	l = cu.slist_append(NULL, "Content-Type: application/json");
	if (l && auth) {
		struct curl_slist *l2;

		snprintf(line, sizeof(line), "Authorization: %s", auth);
		l2 = cu.slist_append(l, line);
		explicit_bzero(line, sizeof(line));
		if (!l2) {
			cu.slist_free_all(l);
			l = NULL;
		}
	}
	if (!l)
		return ETCD_ERR_NOMEM;
	cu.easy_setopt(h, CURLOPT_HTTPHEADER, l);
	*hdrs = l;
	return ETCD_OK;
}

/* TLS failures that are about trust or our own files, not the network. */
static bool tls_refused(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	       cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR ||
	       cc == CURLE_SSL_CRL_BADFILE || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

static int full_url(const struct tx_curl *t, const char *path, char *url, size_t len,
		    char *cause, size_t causelen)
{
	if (snprintf(url, len, "%s%s", t->url, path) < (int)len)
		return ETCD_OK;
	snprintf(cause, causelen, "URL too long");
	return ETCD_ERR_USAGE;
}

/* POST and PUT send their body; GET and DELETE none. */
static void set_method(CURL *h, const char *method, const char *body)
{
	if (strcmp(method, "GET") == 0) {
		cu.easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	cu.easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	if (strcmp(method, "POST") != 0)
		cu.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

static int tx_request(struct etcd_tx *tx, const char *method, const char *path,
		      const char *body, const char *auth, long *http, struct buf *resp,
		      char *cause, size_t causelen)
{
	struct tx_curl *t = (struct tx_curl *)tx;
	struct curl_slist *hdrs = NULL;
	char url[1024];
	CURLcode cc;
	int rc = full_url(t, path, url, sizeof(url), cause, causelen);

	if (rc != ETCD_OK)
		return rc;
	if (!t->h && !(t->h = cu.easy_init()))
		return ETCD_ERR_NOMEM;
	cu.easy_reset(t->h);
	rc = setup_handle(t, t->h, auth, &hdrs, false);
	if (rc != ETCD_OK)
		return rc;
	buf_reset(resp);
	cu.easy_setopt(t->h, CURLOPT_URL, url);
	set_method(t->h, method, body);
	cu.easy_setopt(t->h, CURLOPT_WRITEFUNCTION, buf_write);
	cu.easy_setopt(t->h, CURLOPT_WRITEDATA, resp);
	cc = cu.easy_perform(t->h);
	cu.slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		snprintf(cause, causelen, "%s", cu.easy_strerror(cc));
		if (cc == CURLE_WRITE_ERROR)
			return ETCD_ERR_NOMEM;
		/* Certificates that do not check out will not on a retry either. */
		return tls_refused(cc) ? ETCD_ERR_AUTH : ETCD_ERR_UNAVAILABLE;
	}
	*http = 0;
	cu.easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, http);
	return ETCD_OK;
}

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct stream_curl *s = arg;
	size_t n = size * nmemb;

	if (s->stopped || s->cb(s->arg, ptr, n)) {
		s->stopped = true;
		return 0;
	}
	return n;
}

static void tx_stream_close(struct etcd_stream *st)
{
	struct stream_curl *s = (struct stream_curl *)st;

	if (!s)
		return;
	if (s->m && s->h)
		cu.multi_remove_handle(s->m, s->h);
	if (s->h)
		cu.easy_cleanup(s->h);
	if (s->m)
		cu.multi_cleanup(s->m);
	if (s->hdrs)
		cu.slist_free_all(s->hdrs);
	free(s);
}

static const struct etcd_tx_ops curl_ops;

static int tx_stream_open(struct etcd_tx *tx, const char *method, const char *path,
			  const char *body, const char *auth, http_body_cb cb, void *arg,
			  struct etcd_stream **out, char *cause, size_t causelen)
{
	struct tx_curl *t = (struct tx_curl *)tx;
	struct stream_curl *s;
	char url[1024];
	int rc = full_url(t, path, url, sizeof(url), cause, causelen);

	*out = NULL;
	if (rc != ETCD_OK)
		return rc;
	s = fl_calloc(1, sizeof(*s));
	if (!s)
		return ETCD_ERR_NOMEM;
	s->base.ops = &curl_ops;
	s->cb = cb;
	s->arg = arg;
	s->h = cu.easy_init();
	s->m = cu.multi_init();
	if (!s->h || !s->m || setup_handle(t, s->h, auth, &s->hdrs, true) != ETCD_OK)
		goto fail;
	cu.easy_setopt(s->h, CURLOPT_URL, url);
	set_method(s->h, method, body);
	cu.easy_setopt(s->h, CURLOPT_WRITEFUNCTION, stream_write);
	cu.easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	if (cu.multi_add_handle(s->m, s->h) != CURLM_OK)
		goto fail;
	*out = &s->base;
	return ETCD_OK;
fail:
	tx_stream_close(&s->base);
	return ETCD_ERR_NOMEM;
}

static int tx_stream_read(struct etcd_stream *st, int *status, char *cause, size_t causelen)
{
	struct stream_curl *s = (struct stream_curl *)st;
	CURLMsg *msg;
	int running = 0, left;
	long http = 0;

	cu.multi_perform(s->m, &running);
	while ((msg = cu.multi_info_read(s->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		cu.easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &http);
		*status = (int)http;
		if (s->stopped)
			return HTTP_ERR_CALLBACK;
		if (msg->data.result == CURLE_OK)
			return HTTP_DONE;
		snprintf(cause, causelen, "%s", cu.easy_strerror(msg->data.result));
		return HTTP_ERR_IO;
	}
	return s->stopped ? HTTP_ERR_CALLBACK : HTTP_OK;
}

static bool tx_stream_wait(struct etcd_stream *st, int wake_fd, int timeout_ms)
{
	struct stream_curl *s = (struct stream_curl *)st;
	struct curl_waitfd extra = { .fd = wake_fd, .events = CURL_WAIT_POLLIN };

	if (cu.multi_poll(s->m, wake_fd >= 0 ? &extra : NULL, wake_fd >= 0 ? 1 : 0, timeout_ms,
			  NULL) != CURLM_OK)
		return false;
	return wake_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN);
}

static void tx_free(struct etcd_tx *tx)
{
	struct tx_curl *t = (struct tx_curl *)tx;

	if (t->h)
		cu.easy_cleanup(t->h);
	free(t->url);
	free(t);
}

/* No pipelining: every request is one easy_perform. */
static const struct etcd_tx_ops curl_ops = {
	.request = tx_request,
	.stream_open = tx_stream_open,
	.stream_read = tx_stream_read,
	.stream_wait = tx_stream_wait,
	.stream_close = tx_stream_close,
	.free = tx_free,
};

int etcd_tx_curl_new(const char *url, long timeout_ms, const struct etcd_tls *tls,
		     struct etcd_tx **out, char *err, size_t errlen)
{
	struct tx_curl *t;
	int rc = curl_load(err, errlen);

	*out = NULL;
	if (rc != ETCD_OK)
		return rc;
	t = fl_calloc(1, sizeof(*t));
	if (!t || !(t->url = fl_strdup(url))) {
		free(t);
		return ETCD_ERR_NOMEM;
	}
	t->base.ops = &curl_ops;
	t->timeout_ms = timeout_ms;
	t->tls = tls;
	*out = &t->base;
	return ETCD_OK;
}
