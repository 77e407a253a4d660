/* wg_run.h - flannel-wireguard's two steps: init (a device and the lease's
 * BackendData or BackendV6Data) and apply (lease events on stdin into the
 * peers of one device per family, or of one device for both). */
#ifndef FLANNEL_WG_RUN_H
#define FLANNEL_WG_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/subnet.h"
#include "wg/wg.h"

/* Backend.Mode, as upstream: separate devices per family, or one for both
 * whose peers' endpoints are of one family (auto: chosen per peer). */
enum wg_mode { WG_MODE_SEPARATE, WG_MODE_AUTO, WG_MODE_IPV4, WG_MODE_IPV6 };

struct wg_opts {
	const char *dev;             /* flannel-wg */
	const char *dev6;            /* flannel-wg-v6: IPv6 in Mode separate */
	const char *uapi_dir;        /* WG_UAPI_DIR */
	const char *key_file;        /* /run/flannel/wgkey */
	uint16_t port, port6;        /* ListenPort, ListenPortV6 */
	enum wg_mode mode;
	const char *iface;           /* the underlay: name or address; NULL: default route's */
	unsigned mtu;                /* Backend.MTU (the underlay's), 0: the interface's */
	const char *wg_go;           /* started when nothing serves a device; NULL: never */
	/* apply */
	const char *subnet_file;
	bool subnet_file_given;
	struct prefix network;       /* --network; family 0: from the subnet file */
	struct prefix network6;      /* --network6; family 0: from the subnet file */
	uint16_t keepalive;          /* PersistentKeepaliveInterval, seconds */
	uint8_t psk[WG_KEY_LEN];
	bool has_psk;
	unsigned check_secs;         /* reconcile and handshake check period */
	unsigned stale_secs;         /* a handshake older than this while sending: reported */
	const char *state_dir;       /* the state file's (status/state.h); NULL: the default */
	int sigfd;
	void (*synced)(void *arg);   /* after the first sync */
	void *synced_arg;
};

/* WireGuard's outer IP + UDP + its own header and tag: 20 + 8 + 32 over
 * IPv4, 40 + 8 + 32 over IPv6. */
#define WG_OVERHEAD_V4 60
#define WG_OVERHEAD_V6 80

/* The overhead of a device carrying inner packets of these families in
 * this mode: what its MTU, and the pods', loses.  These two are in
 * wg_mode.c, for the backend table. */
unsigned wg_overhead(enum wg_mode mode, bool v4, bool v6);
/* "separate", "auto", "ipv4", "ipv6": 0, or -1 for anything else. */
int wg_mode_parse(const char *s, enum wg_mode *out);

/* Device up, key and port set; BackendData on stdout.  0 or an error kind (base/err.h). */
int wg_run_init(const struct wg_opts *o);
/* Until EOF or SIGTERM.  0 or an error kind (base/err.h). */
int wg_run_apply(const struct wg_opts *o);

#endif
