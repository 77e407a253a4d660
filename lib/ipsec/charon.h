/* charon.h - strongSwan's IKE daemon as our child: found where the
 * distributions put it, run in a mount namespace of its own whose /run is
 * our run directory (so its PID file, its VICI socket and its settings are
 * ours alone, next to a system charon or the charon of another host of a
 * test), ended with us. */
#ifndef FLANNEL_CHARON_H
#define FLANNEL_CHARON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct charon {
	const char *run_dir; /* charon's /run; holds strongswan.conf, charon.vici, charon.pid */
	const char *path;    /* the charon binary */
	const char *self;    /* our own program, which runs charon_exec in the child */
	int log_level;       /* charon's stderr log level: -1..4 */
	pid_t pid;           /* 0: not running */
};

/* The charon binary: given (NULL: searched in PATH and where Alpine, Debian,
 * RHEL and SUSE keep it).  0 with out, or -1. */
int charon_find(const char *given, char *out, size_t len);
/* The VICI socket of the charon of run_dir, as we reach it. */
int charon_vici_path(const char *run_dir, char *out, size_t len);
/* Write run_dir/strongswan.conf and start charon: 0, or -1 with err. */
int charon_start(struct charon *ch, char *err, size_t errlen);
/* It ended: true with *status (waitpid's). */
bool charon_exited(struct charon *ch, int *status);
/* SIGTERM, up to 5 s for it to go (it closes its SAs), then SIGKILL. */
void charon_stop(struct charon *ch);
/* In the child (flannel-ipsec exec-charon): a mount namespace, run_dir on
 * /run, then charon itself.  Returns only when that failed (err). */
int charon_exec(const char *run_dir, const char *path, char *err, size_t errlen);

#endif
