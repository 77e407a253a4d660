/* etcd_curl.c - https:// endpoints through libcurl, loaded with dlopen only
 * when one is configured: a process that talks plain http never maps it. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "etcd/etcd_internal.h"

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

int etcd_curl_load(char *err, size_t errlen)
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

static size_t buf_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;

	/* A short count makes curl report a write error. */
	return buf_add(arg, ptr, n) == 0 ? n : 0;
}

/* Options every handle gets: TLS, timeouts, headers. */
static int setup_handle(struct etcd *e, CURL *h, struct curl_slist **hdrs, bool stream)
{
	char auth[sizeof(e->token) + 32];
	struct curl_slist *l;

	cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
	if (!stream)
		cu.easy_setopt(h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	cu.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	cu.easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
	cu.easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	if (e->cafile)
		cu.easy_setopt(h, CURLOPT_CAINFO, e->cafile);
	if (e->certfile) {
		cu.easy_setopt(h, CURLOPT_SSLCERT, e->certfile);
		cu.easy_setopt(h, CURLOPT_SSLKEY, e->keyfile);
	}
	l = cu.slist_append(NULL, "Content-Type: application/json");
	if (l && e->token[0]) {
		struct curl_slist *l2;

		snprintf(auth, sizeof(auth), "Authorization: %s", e->token);
		l2 = cu.slist_append(l, auth);
		explicit_bzero(auth, sizeof(auth));
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


int etcd_curl_post(struct etcd *e, const char *url, const char *body, long *http,
		   char *cause, size_t causelen)
{
	struct curl_slist *hdrs = NULL;
	CURLcode cc;
	int rc;

	if (!e->curl && !(e->curl = cu.easy_init()))
		return ETCD_ERR_NOMEM;
	cu.easy_reset(e->curl);
	rc = setup_handle(e, e->curl, &hdrs, false);
	if (rc != ETCD_OK)
		return rc;
	buf_reset(&e->resp);
	cu.easy_setopt(e->curl, CURLOPT_URL, url);
	cu.easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	cu.easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, buf_write);
	cu.easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->resp);
	cc = cu.easy_perform(e->curl);
	cu.slist_free_all(hdrs);
	if (cc != CURLE_OK) {
		snprintf(cause, causelen, "%s", cu.easy_strerror(cc));
		if (cc == CURLE_WRITE_ERROR)
			return ETCD_ERR_NOMEM;
		/* Certificates that do not check out will not on a retry either. */
		return tls_refused(cc) ? ETCD_ERR_AUTH : ETCD_ERR_UNAVAILABLE;
	}
	*http = 0;
	cu.easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, http);
	return ETCD_OK;
}

void etcd_curl_free(struct etcd *e)
{
	if (e->curl)
		cu.easy_cleanup(e->curl);
	e->curl = NULL;
}

struct etcd_curl_stream {
	CURL *h;
	CURLM *m;
	struct curl_slist *hdrs;
	http_body_cb cb;
	void *arg;
	bool stopped;
};

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct etcd_curl_stream *s = arg;
	size_t n = size * nmemb;

	if (s->stopped || s->cb(s->arg, ptr, n)) {
		s->stopped = true;
		return 0;
	}
	return n;
}

int etcd_curl_stream_open(struct etcd *e, const char *url, const char *body, http_body_cb cb,
			  void *arg, struct etcd_curl_stream **out)
{
	struct etcd_curl_stream *s = fl_calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return ETCD_ERR_NOMEM;
	s->cb = cb;
	s->arg = arg;
	s->h = cu.easy_init();
	s->m = cu.multi_init();
	if (!s->h || !s->m || setup_handle(e, s->h, &s->hdrs, true) != ETCD_OK)
		goto fail;
	cu.easy_setopt(s->h, CURLOPT_URL, url);
	cu.easy_setopt(s->h, CURLOPT_POSTFIELDS, body);
	cu.easy_setopt(s->h, CURLOPT_WRITEFUNCTION, stream_write);
	cu.easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	if (cu.multi_add_handle(s->m, s->h) != CURLM_OK)
		goto fail;
	*out = s;
	return ETCD_OK;
fail:
	etcd_curl_stream_close(s);
	return ETCD_ERR_NOMEM;
}

int etcd_curl_stream_step(struct etcd_curl_stream *s, int *status, char *cause,
			  size_t causelen)
{
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

bool etcd_curl_stream_wait(struct etcd_curl_stream *s, int wake_fd, int timeout_ms)
{
	struct curl_waitfd extra = { .fd = wake_fd, .events = CURL_WAIT_POLLIN };

	if (cu.multi_poll(s->m, wake_fd >= 0 ? &extra : NULL, wake_fd >= 0 ? 1 : 0, timeout_ms,
			  NULL) != CURLM_OK)
		return false;
	return wake_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN);
}

void etcd_curl_stream_close(struct etcd_curl_stream *s)
{
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
