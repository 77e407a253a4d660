/* config_fetch.c - read <prefix>/config from etcd and parse it, once or
 * waiting until it is there. */
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sig.h"
#include "base/timefmt.h"
#include "etcd/config_fetch.h"
#include "etcd/etcd_cli.h"

static int parse(const char *key, struct etcd_kv *kv, struct net_config *c)
{
	char why[512];
	int rc = config_parse(kv->value, kv->value_len, c, why, sizeof(why));

	etcd_kv_clear(kv);
	if (rc < 0) {
		log_err("parse config %s: %s", key, why);
		return FL_ERR_CONFIG;
	}
	return 0;
}

#define NOT_FOUND "not found (write it with etcdctl put, the v3 API)"

/* Once, or waiting: while the key is missing (every second) or etcd is
 * unreachable (with a backoff up to 10 s), saying so every 10 s and once
 * more when etcd answers again. */
static int fetch(struct etcd *e, const char *prefix, struct net_config *c, bool wait)
{
	char key[600];
	int64_t said = 0, backoff = 500;
	bool failed = false;
	int n = snprintf(key, sizeof(key), "%s/config", prefix);

	if (n < 0 || (size_t)n >= sizeof(key)) {
		log_err("read config %s/config: the prefix is too long", prefix);
		return FL_ERR_CONFIG;
	}
	for (;;) {
		struct etcd_kv kv;
		int rc = etcd_get(e, key, &kv, NULL);
		bool unreachable = rc != ETCD_OK && rc != ETCD_NOTFOUND;

		if (!unreachable && failed) {
			log_notice("etcd reachable again: recovered");
			failed = false;
		}
		if (rc == ETCD_OK)
			return parse(key, &kv, c);
		if (!wait && rc == ETCD_NOTFOUND) {
			log_err("read config %s: " NOT_FOUND, key);
			return FL_ERR_CONFIG;
		}
		if (!wait || rc == ETCD_ERR_AUTH || rc == ETCD_ERR_USAGE || rc == ETCD_ERR_NOMEM) {
			log_err("read config %s: %s", key, etcd_error(e));
			return etcd_err(rc);
		}
		failed |= unreachable;
		if (!said || mono_ms() - said >= 10000) {
			log_warn("waiting for config %s: %s", key, unreachable ? etcd_error(e) : NOT_FOUND);
			said = mono_ms();
		}
		if (sig_pause_ms(unreachable ? backoff : 1000))
			return -1;
		if (unreachable)
			backoff = backoff * 2 > 10000 ? 10000 : backoff * 2;
	}
}

int config_fetch(struct etcd *e, const char *prefix, struct net_config *c)
{
	return fetch(e, prefix, c, false);
}

int config_fetch_wait(struct etcd *e, const char *prefix, struct net_config *c)
{
	return fetch(e, prefix, c, true);
}
