/* wireguard.c - the wireguard backend (upstream's wireguard): an encrypted
 * overlay through the WireGuard devices flannel-wg (IPv4) and
 * flannel-wg-v6 (IPv6; one device for both in the Modes other than
 * separate), one peer per remote lease.  Keys: ListenPort (51820),
 * ListenPortV6 (51821), PSK (base64), PersistentKeepaliveInterval (a number
 * of seconds), Mode (separate, auto, ipv4, ipv6), MTU (the underlay's).
 * BackendData and BackendV6Data {"PublicKey":..,"Port":N}, each with the
 * port of the device that carries that family (upstream puts ListenPortV6
 * in BackendV6Data even where one device listens on ListenPort).  MTU: the
 * underlay's less the real overhead of the outer family, 60 over IPv4 (20 +
 * 8 + WireGuard's 32), 80 over IPv6; upstream takes 80 for both.  The PSK
 * reaches the tool in a file flanneld writes 0600, never on its command
 * line. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "wg/wg.h"
#include "wg/wg_run.h"

struct wg_conf {
	unsigned port, port6, mtu, keepalive;
	const char *psk, *mode;
	enum wg_mode m;
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

		if (wg_mode_parse(m, &w->m) < 0) {
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
	/* The pods' one MTU: the smaller of the devices' when two carry. */
	return underlay - wg_overhead(w.m, c->enable_ipv4, c->enable_ipv6);
}

static const char *wireguard_secret(const struct net_config *c)
{
	struct wg_conf w;
	char err[160];

	return conf_of(c, &w, err, sizeof(err)) == 0 ? w.psk : NULL;
}

static void wireguard_args(const struct net_config *c, enum backend_step step,
			   const struct backend_host *h, struct strv *av)
{
	struct wg_conf w;
	char err[160], net[ADDR_STRLEN];

	(void)conf_of(c, &w, err, sizeof(err));
	/* INIT runs once per family: IPv6's is flannel-wg-v6's in Mode separate. */
	if (step == BACKEND_INIT && h->family == AF_INET6 && w.m == WG_MODE_SEPARATE)
		strv_addf(av, "--dev=flannel-wg-v6");
	strv_addf(av, "--port=%u", step == BACKEND_INIT && h->family == AF_INET6 &&
					   w.m == WG_MODE_SEPARATE ? w.port6 : w.port);
	strv_addf(av, "--iface=%s", h->iface);
	if (w.mtu)
		strv_addf(av, "--mtu=%u", w.mtu);
	if (step != BACKEND_APPLY)
		return;
	strv_addf(av, "--mode=%s", w.mode);
	if (c->enable_ipv6 && w.m == WG_MODE_SEPARATE)
		strv_addf(av, "--port6=%u", w.port6);
	if (c->enable_ipv4)
		strv_addf(av, "--network=%s", prefix_format(&c->network, net, sizeof(net)));
	if (c->enable_ipv6)
		strv_addf(av, "--network6=%s", prefix_format(&c->network6, net, sizeof(net)));
	if (w.keepalive)
		strv_addf(av, "--keepalive=%u", w.keepalive);
	if (h->secret_file)
		strv_addf(av, "--psk-file=%s", h->secret_file);
}

static void wireguard_device(const struct net_config *c, int family, char *buf, size_t len)
{
	struct wg_conf w;
	char err[160];

	/* Mode separate gives IPv6 its own device; the others carry both on
	 * flannel-wg (checked as the IPv4 device). */
	(void)conf_of(c, &w, err, sizeof(err));
	if (family == AF_INET)
		snprintf(buf, len, "flannel-wg");
	else
		snprintf(buf, len, "%s",
			 c->enable_ipv6 && w.m == WG_MODE_SEPARATE ? "flannel-wg-v6" : "");
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
	.about = "encrypted: WireGuard devices flannel-wg(-v6), one peer per host (kernel or userspace)",
	.lease_type = "wireguard",
	.tool = "flannel-wireguard",
	.step_cmd = { [BACKEND_INIT] = "init", [BACKEND_APPLY] = "apply" },
	.init_per_family = true,
	.ipv6 = true,
	.secret = wireguard_secret,
	.check = wireguard_check,
	.mtu = wireguard_mtu,
	.args = wireguard_args,
	.device = wireguard_device,
	.port = wireguard_port,
};
