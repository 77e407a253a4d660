/* networks.c - flanneld's bring-up of each network: the networks and their
 * backends checked, the interface chosen, the lock taken, the backend's init
 * and local setup run, and every piece laid out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/vxlan.h"
#include "base/err.h"
#include "base/log.h"
#include "base/path.h"
#include "base/pidlock.h"
#include "flanneld/daemon.h"

/* One INIT run of the backend's tool: its stdout is BackendData. */
static int run_init(struct daemon *d, struct network *n, int family, char *out, size_t len)
{
	bool v6 = n->be->init_per_family && family == AF_INET6;
	char name[32];
	struct piece *p;
	int status;

	snprintf(name, sizeof(name), "%s-%s%s", n->be->name, n->be->step_cmd[BACKEND_INIT],
		 v6 ? "-v6" : "");
	p = flanneld_new_piece(d, name, -1, n->be->tool);
	if (!p)
		return -1;
	if (flanneld_backend_args(d, p, n, BACKEND_INIT, family) < 0) {
		status = -1;
	} else if (d->o->dry_run) {
		flanneld_print_piece(p);
		snprintf(out, len, "$(%s %s%s ...)", n->be->tool, n->be->step_cmd[BACKEND_INIT],
			 v6 ? " -6" : "");
		status = 0;
	} else {
		status = supervise_run_capture(&d->sv, p, out, len);
	}
	d->sv.n--; /* a one-off: not supervised */
	piece_clear(p);
	out[strcspn(out, "\n")] = '\0';
	return status;
}

/* The backend's secret into <subnet file>.<backend>-secret, mode 0600,
 * replaced atomically: the tool reads it from there, not from its command
 * line. */
static int write_secret(struct network *n, bool dry_run)
{
	const char *secret = n->be->secret ? n->be->secret(&n->cfg) : NULL;
	char tmp[640];
	size_t len;
	int fd, bad;

	n->secret_file[0] = '\0';
	if (!secret)
		return 0;
	len = strlen(secret);
	snprintf(n->secret_file, sizeof(n->secret_file), "%s.%s-secret", n->subnet_file,
		 n->be->name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", n->secret_file);
	if (dry_run)
		return 0;
	if (path_mkdir_parents(tmp) < 0)
		goto fail;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	bad = fchmod(fd, 0600) < 0 || write(fd, secret, len) != (ssize_t)len ||
	      write(fd, "\n", 1) != 1 || fsync(fd) < 0;
	bad |= close(fd) < 0;
	if (bad || rename(tmp, n->secret_file) < 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	log_err("write %s (the %s backend's secret): %s", n->secret_file, n->be->name,
		strerror(errno));
	return -1;
}

/* Step 2: the backend's own start, whose output is the lease's BackendData. */
static int backend_init(struct daemon *d, struct network *n)
{
	const char *type = n->be->name;
	int status = 0;

	n->backend_data[0] = n->backend_v6_data[0] = '\0';
	if (!n->be->step_cmd[BACKEND_INIT])
		return 0;
	if (!n->be->init_per_family) {
		status = run_init(d, n, flanneld_primary_family(d), n->backend_data,
				  sizeof(n->backend_data));
	} else {
		if (n->cfg.enable_ipv4)
			status = run_init(d, n, AF_INET, n->backend_data, sizeof(n->backend_data));
		if (status == 0 && n->cfg.enable_ipv6)
			status = run_init(d, n, AF_INET6, n->backend_v6_data,
					  sizeof(n->backend_v6_data));
	}
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_err("%s backend init for network %s failed (%s %d)", type,
			n->name[0] ? n->name : "(default)",
			WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		return WIFEXITED(status) && WEXITSTATUS(status) ? cli_err_of_exit(WEXITSTATUS(status))
							 : FL_ERR_FAILED;
	}
	return 0;
}

/* Step 4: the backend's local setup once the subnet is known. */
int flanneld_post_startup(struct daemon *d, struct network *n)
{
	char out[4096];
	struct piece *p;
	int status;

	if (!n->be->step_cmd[BACKEND_POST])
		return 0;
	p = flanneld_new_piece(d, "post-startup", -1, n->be->tool);
	if (!p || flanneld_backend_args(d, p, n, BACKEND_POST, flanneld_primary_family(d)) < 0 ||
	    flanneld_common_net_args(d, p, n) < 0)
		return FL_ERR_OS;
	status = supervise_run_capture(&d->sv, p, out, sizeof(out));
	d->sv.n--;
	piece_clear(p);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_err("%s %s failed for network %s", n->be->tool, n->be->step_cmd[BACKEND_POST],
			n->name[0] ? n->name : "(default)");
		return FL_ERR_FAILED;
	}
	return 0;
}

/* The backend from the table, and its Backend keys checked. */
int flanneld_check_backend(struct network *n)
{
	const char *net = n->name[0] ? n->name : "(default)";
	char err[256];

	n->be = backend_find(n->cfg.backend_type);
	if (!n->be) {
		log_err("network %s: backend \"%s\" is not implemented by flanneld here "
			"(supported: %s)", net, n->cfg.backend_type, backend_names());
		return FL_ERR_CONFIG;
	}
	if (n->cfg.enable_ipv6 && !n->be->ipv6) {
		log_err("network %s: backend %s does not support EnableIPv6", net, n->be->name);
		return FL_ERR_CONFIG;
	}
	if (n->be->check && n->be->check(&n->cfg, err, sizeof(err)) < 0) {
		log_err("network %s: parse config %s/config: %s", net, n->prefix, err);
		return FL_ERR_CONFIG;
	}
	return 0;
}

/* Two networks whose backends keep the same device (udp's flannel0,
 * wireguard's flannel-wg, ipip's flannel.ipip, ...) would fight over it. */
static int check_devices(struct daemon *d)
{
	char dev[FLANNELD_MAX_NETWORKS][2][64];
	int ipsec = -1;

	for (int i = 0; i < d->n_nets; i++) {
		const struct network *n = &d->nets[i];

		/* ipsec has no device, but one charon per host, and each
		 * flannel-ipsec would purge the other's tagged XFRM policies */
		if (n->be == &backend_ipsec && ipsec >= 0) {
			log_err("networks %s and %s both use the ipsec backend: on one host only "
				"one network can (one charon, one set of XFRM policies)",
				d->nets[ipsec].name, n->name);
			return FL_ERR_CONFIG;
		}
		if (n->be == &backend_ipsec)
			ipsec = i;
		for (int f = 0; f < 2; f++) {
			dev[i][f][0] = '\0';
			if (n->be->device)
				n->be->device(&n->cfg, f ? AF_INET6 : AF_INET, dev[i][f],
					      sizeof(dev[i][f]));
			for (int j = 0; j < i && dev[i][f][0]; j++)
				for (int g = 0; g < 2; g++)
					if (strcmp(dev[j][g], dev[i][f]) == 0) {
						log_err("networks %s and %s would both use device %s "
							"(backend %s): on one host only one network "
							"can have it",
							d->nets[j].name, n->name, dev[i][f],
							n->cfg.backend_type);
						return FL_ERR_CONFIG;
					}
		}
	}
	return 0;
}

/* Two vxlan networks with one VNI would share one device: refuse it, with
 * the key to change; then any other device two networks would share. */
int flanneld_check_vnis(struct daemon *d)
{
	uint32_t vni[FLANNELD_MAX_NETWORKS];
	char err[160];

	for (int i = 0; i < d->n_nets; i++) {
		struct vxlan_conf vc = { .vni = 1 };
		struct vxlan_apply ap = { 0 };

		vni[i] = 0;
		if (d->nets[i].be != &backend_vxlan)
			continue;
		if (d->nets[i].cfg.backend &&
		    vxlan_conf_from_json(d->nets[i].cfg.backend, &vc, &ap, err, sizeof(err)) < 0)
			continue; /* check_backend said so already */
		vni[i] = vc.vni;
		for (int j = 0; j < i; j++)
			if (vni[j] == vni[i]) {
				log_err("networks %s and %s both use vxlan VNI %u: give each its own "
					"Backend.VNI", d->nets[j].name, d->nets[i].name, vni[i]);
				return FL_ERR_CONFIG;
			}
	}
	return check_devices(d);
}

int flanneld_setup_networks(struct daemon *d)
{
	const char *list = d->o->networks;
	char name[64];
	int i = 0;

	if (!list || !*list) {
		struct network *n = &d->nets[d->n_nets++];

		snprintf(n->prefix, sizeof(n->prefix), "%s", d->o->etcd.prefix);
		snprintf(n->subnet_file, sizeof(n->subnet_file), "%s", d->o->subnet_file);
		return 0;
	}
	while (*list) {
		size_t len = strcspn(list, ",");
		struct network *n;

		if (len == 0 || len >= sizeof(n->name) || memchr(list, '/', len)) {
			log_err("--networks: \"%.*s\" is not a network name", (int)len, list);
			return FL_ERR_USAGE;
		}
		if (i >= FLANNELD_MAX_NETWORKS) {
			log_err("--networks: more than %d networks", FLANNELD_MAX_NETWORKS);
			return FL_ERR_USAGE;
		}
		n = &d->nets[i++];
		snprintf(name, sizeof(name), "%.*s", (int)len, list);
		snprintf(n->name, sizeof(n->name), "%s", name);
		snprintf(n->prefix, sizeof(n->prefix), "%s/%s", d->o->etcd.prefix, name);
		snprintf(n->subnet_file, sizeof(n->subnet_file), "%s/%s.env", d->o->subnet_dir, name);
		list += len;
		if (*list == ',')
			list++;
	}
	d->n_nets = i;
	return 0;
}

int flanneld_choose_iface(struct daemon *d)
{
	bool want4 = false, want6 = false;
	char err[256];

	for (int i = 0; i < d->n_nets; i++) {
		want4 |= d->nets[i].cfg.enable_ipv4;
		want6 |= d->nets[i].cfg.enable_ipv6;
	}
	if (want4) {
		if (iface_select(d->o->ifaces, d->o->n_ifaces, d->o->iface_regex, d->o->n_regex,
				 d->o->can_reach, AF_INET, &d->ifc, err, sizeof(err)) < 0) {
			log_err("choose the interface: %s", err);
			return FL_ERR_CONFIG;
		}
		d->have4 = true;
		log_notice("using interface %s, address %s", d->ifc.name,
			   addr_format(&d->ifc.addr, err, sizeof(err)));
	}
	if (want6) {
		if (iface_select(d->o->ifaces, d->o->n_ifaces, d->o->iface_regex, d->o->n_regex,
				 d->o->can_reach, AF_INET6, &d->ifc6, err, sizeof(err)) < 0) {
			log_err("choose the IPv6 interface: %s", err);
			return FL_ERR_CONFIG;
		}
		d->have6 = true;
	}
	return 0;
}

int flanneld_plan(struct daemon *d)
{
	for (int i = 0; i < d->n_nets; i++) {
		struct network *n = &d->nets[i];
		int base = i * G_PER_NET, rc;

		n->mtu = n->be->mtu(&n->cfg, d->have4 ? d->ifc.mtu : d->ifc6.mtu);
		if (write_secret(n, d->o->dry_run) < 0)
			return FL_ERR_OS;
		rc = backend_init(d, n);
		if (rc)
			return rc;
		if (flanneld_plan_lease(d, n, base) < 0 || flanneld_plan_data(d, n, base) < 0 ||
		    flanneld_plan_masq(d, n, base) < 0) {
			log_err("build the command lines: %s", strerror(errno));
			return FL_ERR_INTERNAL;
		}
	}
	/* Everything is due now; start_due holds the data path and masq back
	 * until the lease is there. */
	for (int i = 0; i < d->sv.n; i++) {
		d->pieces[i].restart_at_ms = 0;
		if (!d->o->dry_run && access(d->pieces[i].argv[0], X_OK) < 0) {
			log_err("cannot run %s: %s (install it, or point --bin-dir at it)",
				d->pieces[i].argv[0], strerror(errno));
			return FL_ERR_CONFIG;
		}
	}
	return 0;
}

/* One flanneld per subnet file: its pieces would fight over the lease. */
int flanneld_lock_networks(struct daemon *d)
{
	char path[600];
	pid_t holder;
	int fd;

	for (int i = 0; !d->o->dry_run && i < d->n_nets; i++) {
		snprintf(path, sizeof(path), "%s.flanneld.lock", d->nets[i].subnet_file);
		if (pidlock_take(path, &fd, &holder) == 0)
			continue;
		if (errno == EWOULDBLOCK) {
			log_err("lock %s: another flanneld (pid %ld) already runs for %s; stop it first",
				path, (long)holder, d->nets[i].subnet_file);
			return FL_ERR_TEMP;
		}
		log_err("lock %s: %s", path, strerror(errno));
		return FL_ERR_OS;
	}
	return 0;
}
