/* wg_run.h - flannel-wireguard's two steps: init (the device and the
 * lease's BackendData) and apply (lease events on stdin into peers). */
#ifndef FLANNEL_WG_RUN_H
#define FLANNEL_WG_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/subnet.h"
#include "wg/wg.h"

struct wg_opts {
	const char *dev;             /* flannel-wg */
	const char *uapi_dir;        /* WG_UAPI_DIR */
	const char *key_file;        /* /run/flannel/wgkey */
	uint16_t port;               /* ListenPort */
	const char *iface;           /* the underlay: name or address; NULL: default route's */
	unsigned mtu;                /* Backend.MTU (the underlay's), 0: the interface's */
	/* apply */
	const char *subnet_file;
	bool subnet_file_given;
	struct prefix network;       /* --network; family 0: from the subnet file */
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

/* WireGuard's IPv4 + UDP + its own header and tag: 20 + 8 + 32. */
#define WG_OVERHEAD_V4 60
#define WG_OVERHEAD_V6 80

/* Device up, key and port set; BackendData on stdout.  A sysexits code. */
int wg_run_init(const struct wg_opts *o);
/* Until EOF or SIGTERM.  A sysexits code. */
int wg_run_apply(const struct wg_opts *o);

#endif
