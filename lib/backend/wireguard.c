/* wireguard.c - the wireguard backend (upstream's wireguard): an encrypted
 * overlay through the WireGuard device flannel-wg, one peer per remote
 * lease.  Keys: ListenPort (51820), ListenPortV6 (51821), PSK (base64),
 * PersistentKeepaliveInterval (a number of seconds), Mode (separate, auto,
 * ipv4, ipv6), MTU (the underlay's).  BackendData {"PublicKey":..,"Port":N}.
 * MTU: the underlay's less 60, WireGuard's real IPv4 overhead (IPv4 20, UDP
 * 8, WireGuard 32); upstream takes 80, the IPv6 overhead, for both
 * families and so loses 20 bytes on IPv4.  IPv4 only for now. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "wg/wg.h"
#include "wg/wg_run.h"

struct wg_conf {
	unsigned port, port6, mtu, keepalive;
	const char *psk, *mode;
};

static int uint_key(const struct net_config *c, const char *key, unsigned max, unsigned *out,
		    char *err, size_t errlen)
{
	json_t *v = config_backend_get(c, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)max) {
		snprintf(err, errlen, "Backend.%s is not an integer within 0..%u", key, max);
		return -1;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int conf_of(const struct net_config *c, struct wg_conf *w, char *err, size_t errlen)
{
	json_t *v;
	uint8_t k[WG_KEY_LEN];

	*w = (struct wg_conf){ .port = WG_DEFAULT_PORT, .port6 = WG_DEFAULT_PORT_V6,
			       .mode = "separate" };
	if (uint_key(c, "ListenPort", 65535, &w->port, err, errlen) < 0 ||
	    uint_key(c, "ListenPortV6", 65535, &w->port6, err, errlen) < 0 ||
	    uint_key(c, "MTU", 65535, &w->mtu, err, errlen) < 0)
		return -1;
	/* A Go Duration decoded from a JSON number, then taken as seconds:
	 * "25s" is a decode error upstream. */
	if (uint_key(c, "PersistentKeepaliveInterval", 65535, &w->keepalive, err, errlen) < 0) {
		snprintf(err, errlen, "Backend.PersistentKeepaliveInterval is not a number of "
			 "seconds within 0..65535");
		return -1;
	}
	if (!w->port)
		w->port = WG_DEFAULT_PORT;
	if (!w->port6)
		w->port6 = WG_DEFAULT_PORT_V6;
	v = config_backend_get(c, "PSK");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || wg_key_from_base64(json_string_value(v), k) < 0) {
			snprintf(err, errlen, "Backend.PSK is not the base64 of a 32-byte key");
			return -1;
		}
		w->psk = json_string_value(v);
	}
	v = config_backend_get(c, "Mode");
	if (v && !json_is_null(v)) {
		const char *m = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(m, "separate") && strcmp(m, "auto") && strcmp(m, "ipv4") &&
		    strcmp(m, "ipv6")) {
			snprintf(err, errlen, "Backend.Mode: no valid Mode configured (separate, "
				 "auto, ipv4 or ipv6)");
			return -1;
		}
		w->mode = m;
	}
	return 0;
}

static int wireguard_check(const struct net_config *c, char *err, size_t errlen)
{
	struct wg_conf w;

	return conf_of(c, &w, err, errlen);
}

static unsigned wireguard_mtu(const struct net_config *c, unsigned underlay)
{
	struct wg_conf w;
	char err[160];

	if (conf_of(c, &w, err, sizeof(err)) == 0 && w.mtu > WG_OVERHEAD_V6 + 68)
		underlay = w.mtu;
	return underlay - (c->enable_ipv4 ? WG_OVERHEAD_V4 : WG_OVERHEAD_V6);
}

static void wireguard_args(const struct net_config *c, enum backend_step step,
			   const struct backend_host *h, struct strv *av)
{
	struct wg_conf w;
	char err[160], net[ADDR_STRLEN];

	(void)conf_of(c, &w, err, sizeof(err));
	strv_addf(av, "--port=%u", w.port);
	strv_addf(av, "--iface=%s", h->iface);
	if (w.mtu)
		strv_addf(av, "--mtu=%u", w.mtu);
	if (step != BACKEND_APPLY)
		return;
	if (c->enable_ipv4)
		strv_addf(av, "--network=%s", prefix_format(&c->network, net, sizeof(net)));
	if (w.keepalive)
		strv_addf(av, "--keepalive=%u", w.keepalive);
	if (w.psk)
		strv_addf(av, "--psk=%s", w.psk);
}

static void wireguard_device(const struct net_config *c, int family, char *buf, size_t len)
{
	(void)c;
	/* IPv4 only here (its IPv6 side is not probed) */
	snprintf(buf, len, "%s", family == AF_INET ? "flannel-wg" : "");
}

static unsigned wireguard_port(const struct net_config *c)
{
	struct wg_conf w;
	char err[160];

	(void)conf_of(c, &w, err, sizeof(err));
	return w.port;
}

const struct backend backend_wireguard = {
	.name = "wireguard",
	.about = "encrypted: WireGuard device flannel-wg, one peer per host (kernel or userspace)",
	.lease_type = "wireguard",
	.tool = "flannel-wireguard",
	.step_cmd = { [BACKEND_INIT] = "init", [BACKEND_APPLY] = "apply" },
	.init_per_family = true,
	.check = wireguard_check,
	.mtu = wireguard_mtu,
	.args = wireguard_args,
	.device = wireguard_device,
	.port = wireguard_port,
};
