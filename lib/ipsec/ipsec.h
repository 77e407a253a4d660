/* ipsec.h - flannel-ipsec: its options, its two commands (apply, status),
 * and the VICI requests it makes for a peer (ipsec_vici.c). */
#ifndef FLANNEL_IPSEC_H
#define FLANNEL_IPSEC_H

#include <stdbool.h>
#include <stdint.h>

#include "ipsec/vici_client.h"
#include "model/subnet.h"

/* Upstream's: 96 characters at least, its IKE proposal, its ESP default. */
#define IPSEC_PSK_MIN 96
#define IPSEC_IKE_PROPOSAL "aes256-sha256-modp4096"
#define IPSEC_ESP_PROPOSAL "aes128gcm16-sha256-prfsha256-ecp256"
#define IPSEC_RUN_DIR "/run/flannel/ipsec"
/* Outer IPv4 20 + SPI 4 + sequence 4 + IV 16 + padding up to 15 + 2 + ICV
 * 16; UDP encapsulation adds 8. */
#define IPSEC_OVERHEAD 77
#define IPSEC_OVERHEAD_UDP 85

struct ipsec_opts {
	const char *iface;         /* the underlay: name or address; NULL: default route's */
	const char *public_ip;     /* --public-ip; NULL: the interface's address */
	const char *subnet_file;
	bool subnet_file_given;
	const char *psk;
	bool udp_encap;
	const char *esp_proposal;
	const char *run_dir;       /* our charon's /run */
	const char *vici;          /* a running charon's socket: none of ours */
	const char *charon;        /* its binary; NULL: searched */
	const char *self;          /* our program, for exec-charon */
	unsigned ike_rekey;        /* seconds; the IKE_SA's rekey_time */
	unsigned child_rekey;      /* seconds; the CHILD_SA's */
	unsigned check_secs;       /* policies and SAs checked this often */
	unsigned warn_secs;        /* a peer without an IKE_SA this long: reported */
	int charon_log;            /* charon's log level on stderr */
	bool no_esp_check;         /* apply on a kernel without ESP: IKE and policies only */
	const char *state_dir;     /* flannel-state(5)'s directory; NULL: the default */
	int sigfd;
	void (*synced)(void *arg); /* after the first sync */
	void *synced_arg;
};

/* Whether the kernel has ESP (FL_ERR_UNAVAILABLE and the reason when not), and charon. */
int ipsec_run_init(const struct ipsec_opts *o);
/* Until EOF or SIGTERM.  0 or an error kind (enum fl_err). */
int ipsec_run_apply(const struct ipsec_opts *o);
/* Each peer's IKE and CHILD SA, from the charon at vici.  0 or an error kind. */
int ipsec_status(const char *vici, bool json);

/* ---- ipsec_vici.c ---- */
struct ipsec_peer_conf {
	struct ipaddr own_ip, peer_ip;
	struct prefix own, peer;
	uint32_t reqid;
};
/* Upstream's connection name: <ownIP>-<ownSubnet>-<peerSubnet>-<peerIP>. */
int ipsec_conn_name(const struct ipsec_peer_conf *p, char *out, size_t len);
/* The name parsed back: 0, or -1 when it is not one of ours. */
int ipsec_conn_parse(const char *name, struct ipsec_peer_conf *p);
/* load-shared of the PSK for this host and a peer (peer_ip family 0: only
 * this host, as upstream starts). */
int ipsec_load_key(struct vici_conn *c, const struct ipsec_opts *o, const struct ipaddr *own,
		   const struct ipaddr *peer, char *err, size_t errlen);
int ipsec_unload_key(struct vici_conn *c, const struct ipaddr *peer, char *err, size_t errlen);
int ipsec_load_conn(struct vici_conn *c, const struct ipsec_opts *o,
		    const struct ipsec_peer_conf *p, char *err, size_t errlen);
int ipsec_unload_conn(struct vici_conn *c, const char *name, char *err, size_t errlen);

/* One IKE_SA of list-sas, with its first CHILD_SA. */
struct ipsec_sa {
	char name[160];     /* the connection */
	char ike_state[32]; /* ESTABLISHED, CONNECTING, ... */
	char child_state[32]; /* INSTALLED, ...; "" when none */
	char remote[64];
	long ike_rekey, child_rekey; /* seconds until rekeying; -1: none */
	unsigned long reqid;
	unsigned long long bytes_in, bytes_out;
};
typedef int (*ipsec_sa_fn)(void *arg, const struct ipsec_sa *sa);
int ipsec_list_sas(struct vici_conn *c, ipsec_sa_fn fn, void *arg, char *err, size_t errlen);
/* The connection names charon has loaded. */
typedef int (*ipsec_conn_fn)(void *arg, const char *name);
int ipsec_list_conns(struct vici_conn *c, ipsec_conn_fn fn, void *arg, char *err, size_t errlen);

#endif
