/* wg.h - WireGuard devices, one interface over two ways of driving them:
 * the kernel's "wireguard" generic netlink family (wg_genl.c) and the
 * cross-platform userspace API socket that wireguard-go serves
 * (wg_uapi.c).  wg_dev.c picks one; wg_key.c holds the key file;
 * wg_go.c starts wireguard-go where nothing serves a device; wg_run.c is
 * flannel-wireguard's init and apply. */
#ifndef FLANNEL_WG_H
#define FLANNEL_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <sys/types.h>

#include "model/subnet.h"

#define WG_KEY_LEN 32
#define WG_KEY_B64_LEN 44
#define WG_MAX_ALLOWED 4
#define WG_DEFAULT_PORT 51820
#define WG_DEFAULT_PORT_V6 51821
#define WG_UAPI_DIR "/var/run/wireguard"

struct wg_peer {
	uint8_t pub[WG_KEY_LEN];
	uint8_t psk[WG_KEY_LEN];
	bool has_psk;                /* set: psk given (all zero: none) */
	struct ipaddr endpoint;      /* family 0: none */
	uint16_t endpoint_port;
	uint16_t keepalive;          /* seconds, 0: off */
	struct prefix allowed[WG_MAX_ALLOWED];
	int n_allowed;
	int64_t last_handshake;      /* get: seconds since the epoch, 0: never */
	uint64_t rx_bytes, tx_bytes; /* get */
	bool remove;                 /* set: WGPEER_F_REMOVE_ME */
	bool replace_allowed;        /* set: WGPEER_F_REPLACE_ALLOWEDIPS */
};

struct wg_device {
	uint8_t priv[WG_KEY_LEN];
	bool has_priv;
	uint16_t port;               /* 0: unset (set) or unknown (get) */
	bool replace_peers;          /* set only */
	struct wg_peer *peers;       /* owned (wg_device_clear) */
	size_t n_peers, cap_peers;
};

void wg_device_clear(struct wg_device *d);
/* A zeroed new peer at the end; NULL on ENOMEM. */
struct wg_peer *wg_device_add_peer(struct wg_device *d);
struct wg_peer *wg_device_find_peer(const struct wg_device *d, const uint8_t pub[WG_KEY_LEN]);

/* ---- the driver (wg_dev.c) ---- */
enum wg_kind { WG_KERNEL = 1, WG_USERSPACE };

struct wg_drv {
	enum wg_kind kind;
	char dev[IFNAMSIZ];
	char sock[256];              /* userspace: the API socket */
	int ifindex;
	bool created;                /* kernel: the link was created by us just now */
	void *genl;                  /* kernel: the generic netlink socket */
	uint16_t family_id;          /* kernel: the "wireguard" family */
};

/*
 * Find or make device dev: a running userspace implementation serving
 * uapi_dir/dev.sock, else the kernel's (reused when it exists, created with
 * RTM_NEWLINK kind wireguard when not).  Returns 0, or -errno with err
 * saying what is missing (-EOPNOTSUPP: neither is there).
 */
int wg_open(struct wg_drv *w, const char *dev, const char *uapi_dir, char *err, size_t errlen);
void wg_close(struct wg_drv *w);
const char *wg_kind_name(enum wg_kind k);
/* The device's configuration and peers; 0 or -errno. */
int wg_get(struct wg_drv *w, struct wg_device *out, char *err, size_t errlen);
/* Apply d (its private key, port, replace_peers and peers with their flags). */
int wg_set(struct wg_drv *w, const struct wg_device *d, char *err, size_t errlen);

/* ---- wireguard-go started for a device (wg_go.c) ---- */
/* prog is in PATH (or is a path) and executable. */
bool wg_go_found(const char *prog);
/* Start prog -f w->dev and wait until it serves w->sock: 0 with *pid, or
 * -errno with err. */
int wg_go_start(const char *prog, const struct wg_drv *w, pid_t *pid, char *err, size_t errlen);
/* It exited (reaped): true, with why ("exited with status 1"). */
bool wg_go_exited(pid_t pid, char *why, size_t len);

/* ---- the userspace API text (wg_uapi.c) ---- */
/* "set=1\n...\n\n" for d, malloc'd; NULL on ENOMEM. */
char *wg_uapi_format_set(const struct wg_device *d);
/* Parse a get=1 answer (up to "errno=N"); 0, or -1 with err.  *errno_out
 * is the answer's errno. */
int wg_uapi_parse_get(const char *text, struct wg_device *out, int *errno_out, char *err,
		      size_t errlen);
int wg_uapi_get(const char *sock, struct wg_device *out, char *err, size_t errlen);
int wg_uapi_set(const char *sock, const struct wg_device *d, char *err, size_t errlen);

/* ---- the kernel's generic netlink family (wg_genl.c) ---- */
/* Build the WG_CMD_SET_DEVICE message for d in buf (family id fam);
 * NULL when it does not fit. */
struct nlmsghdr *wg_genl_build_set(char *buf, size_t len, uint16_t fam, const char *dev,
				   const struct wg_device *d);
/* Build the WG_CMD_GET_DEVICE dump request. */
struct nlmsghdr *wg_genl_build_get(char *buf, size_t len, uint16_t fam, const char *dev);
/* Build the CTRL_CMD_GETFAMILY request for "wireguard". */
struct nlmsghdr *wg_genl_build_getfamily(char *buf, size_t len);
/* Parse one WG_CMD_GET_DEVICE answer into out (peers appended). */
int wg_genl_parse_device(const struct nlmsghdr *nlh, struct wg_device *out);
int wg_genl_open(struct wg_drv *w, char *err, size_t errlen);
void wg_genl_close(struct wg_drv *w);
int wg_genl_get(struct wg_drv *w, struct wg_device *out, char *err, size_t errlen);
int wg_genl_set(struct wg_drv *w, const struct wg_device *d, char *err, size_t errlen);

/* ---- keys (wg_key.c) ---- */
/* Read the base64 private key in path, or make one and write it (0400,
 * parent directories 0755) when path does not exist.  *created says
 * which.  0, or -1 with err. */
int wg_key_load(const char *path, uint8_t priv[WG_KEY_LEN], bool *created, char *err,
		size_t errlen);
/* The X25519 public key of priv (OpenSSL). */
int wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN]);
/* base64 of 32 bytes into buf (>= 45 bytes). */
void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char *buf);
/* 0, or -1 when s is not the base64 of 32 bytes (newlines ignored). */
int wg_key_from_base64(const char *s, uint8_t key[WG_KEY_LEN]);

#endif
