/* daemon.h - flanneld's state, shared by its three parts: the pieces'
 * command lines and environment (pieces.c), each network's bring-up
 * (networks.c), and the supervision of the pieces (flanneld.c). */
#ifndef FLANNEL_FLANNELD_DAEMON_H
#define FLANNEL_FLANNELD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "flanneld/flanneld.h"
#include "flanneld/supervise.h"

/* Each network's pieces are in three groups, started and restarted together. */
enum { G_LEASE, G_DATA, G_MASQ, G_PER_NET };

struct network {
	char name[64];            /* "" for the single network */
	char prefix[512];
	char subnet_file[512];
	char secret_file[600];    /* the backend's secret, 0600; "" when none */
	struct net_config cfg;
	const struct backend *be; /* from the table, by cfg.backend_type */
	char backend_data[8192];  /* the lease's BackendData (JSON text) */
	char backend_v6_data[8192];
	unsigned mtu;
	bool leased, started, ready;
	char *cfg_text;           /* the config as etcd has it, to see a change on SIGHUP */
	char line[8192];          /* partial line from flannel-lease */
	size_t line_len;
};

struct daemon {
	struct flanneld_opts *o;
	struct supervisor sv;
	struct piece pieces[FLANNELD_MAX_NETWORKS * 5];
	struct network nets[FLANNELD_MAX_NETWORKS];
	int n_nets;
	struct iface ifc, ifc6;
	struct etcd *e;
	int healthz_fd;           /* -1: not served */
	int metrics_fd;           /* -1: not served */
	struct state *state;      /* flanneld's own state file */
	bool have4, have6, told_ready;
	char **child_env;
	size_t n_env_own;         /* our own strings at the end of child_env */
};

/* pieces.c: command lines and environment */

/* Our environment for the pieces, the etcd password as their fd 3; NULL on
 * failure (logged when it is not ENOMEM). */
char **flanneld_child_environment(struct daemon *d);
/* One command line, quoted for sh, on stdout (--dry-run). */
void flanneld_print_piece(const struct piece *p);
/* The next free piece running d->o->bin_dir/TOOL, or NULL. */
struct piece *flanneld_new_piece(struct daemon *d, const char *name, int group, const char *tool);
/* --subnet-file, --public-ip(v6) and --iface of network n: 0 or -1. */
int flanneld_common_net_args(struct daemon *d, struct piece *p, const struct network *n);
/* The backend's own arguments for a step, then the common ones: 0 or -1. */
int flanneld_backend_args(struct daemon *d, struct piece *p, const struct network *n,
			  enum backend_step step, int family);
/* AF_INET when the host has IPv4, else AF_INET6. */
int flanneld_primary_family(const struct daemon *d);
/* The pieces of network n in groups base + G_LEASE, G_DATA, G_MASQ: 0 or -1. */
int flanneld_plan_lease(struct daemon *d, struct network *n, int base);
int flanneld_plan_data(struct daemon *d, struct network *n, int base);
int flanneld_plan_masq(struct daemon *d, struct network *n, int base);

/* networks.c: bring-up; each returns 0 or an error kind (base/err.h), logged */

/* The networks (--networks or the single one), their prefixes and subnet files. */
int flanneld_setup_networks(struct daemon *d);
/* One flanneld per subnet file (a lock next to each). */
int flanneld_lock_networks(struct daemon *d);
/* The backend of n's config from the table, its keys checked. */
int flanneld_check_backend(struct network *n);
/* No two vxlan networks on one VNI. */
int flanneld_check_vnis(struct daemon *d);
/* The interface (and addresses) the pieces are told to use. */
int flanneld_choose_iface(struct daemon *d);
/* Run each backend's init, then lay out every piece (all due now). */
int flanneld_plan(struct daemon *d);
/* The backend's local setup once n's subnet is known. */
int flanneld_post_startup(struct daemon *d, struct network *n);

#endif
